import { errorMessage } from "../../core/error-text.ts";
import type { D1Backend, D1Query, D1QueryResult } from "./d1-protocol.ts";
import {
  asResult,
  D1PreparedStatement,
  type D1Result,
  type D1StatementRunner,
  queryOf,
} from "./d1-statement.ts";

/** `withSession()`'s constraint: start from the primary's newest state. */
export const FIRST_PRIMARY = "first-primary";
/** `withSession()`'s default: start from any replica's state. */
export const FIRST_UNCONSTRAINED = "first-unconstrained";

/**
 * A sequence of queries that each see at least the writes of the ones before (D1's read
 * replication sessions). Stead serves every database from its primary, so that always holds;
 * the session carries the bookmark of the newest state it has seen, to pass to a later session.
 *
 * @example
 * const session = env.DB.withSession(request.headers.get("x-d1-bookmark") ?? "first-unconstrained");
 * const user = await session.prepare("SELECT * FROM users WHERE id = ?").bind(7).first();
 * response.headers.set("x-d1-bookmark", session.getBookmark() ?? "");
 */
export class D1DatabaseSession {
  readonly #runner: D1StatementRunner;
  #bookmark: string | null;

  /** Sessions are made by `withSession()`. */
  constructor(backend: () => D1Backend, constraintOrBookmark: string) {
    this.#bookmark =
      constraintOrBookmark === FIRST_PRIMARY || constraintOrBookmark === FIRST_UNCONSTRAINED
        ? null
        : constraintOrBookmark;
    this.#runner = {
      run: async (queries) => {
        const { results, bookmark } = await runBatch(backend, queries, true);
        if (bookmark !== undefined) this.#advance(bookmark);
        return results;
      },
    };
  }

  prepare(query: string): D1PreparedStatement {
    return prepareOn(this.#runner, query);
  }

  batch<T = Record<string, unknown>>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    return batchOn<T>(this.#runner, statements);
  }

  /** The bookmark of the newest state this session has seen; null before its first query. */
  getBookmark(): string | null {
    return this.#bookmark;
  }

  #advance(bookmark: string): void {
    // Bookmarks of one database sort as its states do.
    if (this.#bookmark === null || this.#bookmark.localeCompare(bookmark) < 0) {
      this.#bookmark = bookmark;
    }
  }
}

/** `prepare()` of a database or session. */
export function prepareOn(runner: D1StatementRunner, query: unknown): D1PreparedStatement {
  if (typeof query !== "string") {
    throw new TypeError(
      `D1_TYPE_ERROR: prepare() expects the SQL as a string, got ${typeof query}.`,
    );
  }
  return new D1PreparedStatement(runner, query);
}

/** `batch()` of a database or session: every statement in one transaction. */
export async function batchOn<T>(
  runner: D1StatementRunner,
  statements: unknown,
): Promise<D1Result<T>[]> {
  if (!Array.isArray(statements)) {
    throw new TypeError(
      `batch() expects an array of statements made by prepare(), got ${typeof statements}.`,
    );
  }
  const queries = statements.map((statement, i) => queryOf(statement, i));
  return (await runner.run(queries)).map((result) => asResult<T>(result));
}

/** Runs `queries` on the database's object; D1's `D1_ERROR` when they fail. */
export async function runBatch(
  backend: () => D1Backend,
  queries: readonly D1Query[],
  bookmark: boolean,
): Promise<{ results: D1QueryResult[]; bookmark?: string }> {
  let answer: Awaited<ReturnType<D1Backend["batch"]>>;
  try {
    answer = await backend().batch(queries, bookmark);
  } catch (error) {
    throw d1Error("D1_ERROR", error);
  }
  if (!answer.ok) {
    throw new Error(`D1_ERROR: ${answer.error}`, { cause: new Error(answer.error) });
  }
  return answer;
}

/**
 * A failure to reach the database (its object reset, overloaded, or unreachable), under D1's
 * prefix; the original stays as the cause, with its `retryable` and `overloaded`.
 */
export function d1Error(prefix: string, error: unknown): Error {
  const message = errorMessage(error);
  return new Error(`${prefix}: ${message}`, { cause: error });
}
