import type { D1Backend } from "./d1-protocol.ts";
import {
  batchOn,
  D1DatabaseSession,
  d1Error,
  FIRST_UNCONSTRAINED,
  prepareOn,
  runBatch,
} from "./d1-session.ts";
import type { D1PreparedStatement, D1Result, D1StatementRunner } from "./d1-statement.ts";

/** What `exec()` resolves to: statements run, and their total duration in milliseconds. */
export interface D1ExecResult {
  count: number;
  duration: number;
}

/**
 * A D1 database binding (`d1_databases` in the wrangler config). The database is a Durable
 * Object with its own SQLite database, so each call is one event of it: statements never
 * interleave, `batch()` is one transaction, and a result arrives only once its writes are durable.
 *
 * @example
 * await env.DB.prepare("INSERT INTO users (name) VALUES (?)").bind("Ada").run();
 * const { results } = await env.DB.prepare("SELECT * FROM users").all();
 */
export class D1Database {
  readonly #backend: () => D1Backend;
  readonly #primary: D1StatementRunner;

  /** `backend` reaches the database's object (a stub of it). */
  constructor(backend: () => D1Backend) {
    this.#backend = backend;
    this.#primary = {
      run: async (queries) => (await runBatch(backend, queries, false)).results,
    };
  }

  /** A statement to bind values to and run. */
  prepare(query: string): D1PreparedStatement {
    return prepareOn(this.#primary, query);
  }

  /** Runs the statements in order, in one transaction: if one fails, none is applied. */
  batch<T = Record<string, unknown>>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    return batchOn<T>(this.#primary, statements);
  }

  /**
   * Runs SQL without parameters, one statement per line, each on its own; stops at the first
   * line that fails (`D1_EXEC_ERROR`, naming the line), keeping what the lines before it did.
   */
  async exec(query: string): Promise<D1ExecResult> {
    if (typeof query !== "string") {
      throw new TypeError(
        `D1_TYPE_ERROR: exec() expects the SQL as a string, got ${typeof query}.`,
      );
    }
    const lines = query.trim().split("\n");
    let answer: Awaited<ReturnType<D1Backend["exec"]>>;
    try {
      answer = await this.#backend().exec(lines);
    } catch (error) {
      throw d1Error("D1_EXEC_ERROR", error);
    }
    if (!answer.ok) {
      const detail = `Error in line ${answer.line + 1}: ${lines[answer.line]}: ${answer.error}`;
      throw new Error(`D1_EXEC_ERROR: ${detail}`, { cause: new Error(detail) });
    }
    return {
      count: answer.metas.length,
      duration: answer.metas.reduce((sum, meta) => sum + meta.duration, 0),
    };
  }

  /**
   * A session: `"first-primary"`, `"first-unconstrained"` (the default), or the bookmark a
   * previous session's `getBookmark()` returned.
   */
  withSession(constraintOrBookmark?: string): D1DatabaseSession {
    if (constraintOrBookmark !== undefined && typeof constraintOrBookmark !== "string") {
      throw new TypeError(
        `withSession() expects "first-primary", "first-unconstrained" or a bookmark string, got ${typeof constraintOrBookmark}.`,
      );
    }
    const start = constraintOrBookmark?.trim() || FIRST_UNCONSTRAINED;
    return new D1DatabaseSession(this.#backend, start);
  }

  /** The whole database as the bytes of an SQLite file. */
  async dump(): Promise<ArrayBuffer> {
    try {
      return await this.#backend().dump();
    } catch (error) {
      throw d1Error("D1_DUMP_ERROR", error);
    }
  }
}
