import pg from "pg";
import type { FeedChange, FeedCommit } from "./feed-changes.ts";
import {
  type BatchOutcome,
  commitsToApply,
  type FeedSink,
  type ObjectBatch,
  redactUrl,
} from "./feed-sink.ts";
import {
  batchProjectionSql,
  type ObjectChange,
  type RawChange,
  rawChange,
  rawChangesStatement,
} from "./postgres-batch-sql.ts";
import {
  type CursorMove,
  keyOf,
  lockCursorsStatement,
  moveCursorsStatement,
  setCursorsStatement,
} from "./postgres-cursors.ts";
import {
  columnType,
  projectionName,
  projectionSql,
  q,
  type SinkTables,
  type Statement,
  setUpSql,
  sinkTables,
} from "./postgres-statements.ts";

/** Connections per sink: one per apply in flight. */
const CONNECTIONS = 4;

/**
 * The feed into PostgreSQL: per object table a projection `<schema>."<Class>_<table>"` (an
 * `object_id` column plus the row, primary key `(object_id, <the table's key>)`), KV in
 * `"<Class>__kv"`, every change in `feed_changes`, and each object's cursor in `feed_cursors`.
 * One transaction per apply call locks the objects' cursor rows, applies the commits past them
 * and moves them on, so a commit is applied exactly once whatever is delivered again. A server
 * rejecting a change (a type mismatch in a table the operator made) fails only its object: the
 * object's commits before it are applied, the change is named, the others go on.
 */
export class PostgresSink implements FeedSink {
  readonly name: string;
  readonly #pool: pg.Pool;
  readonly #tables: SinkTables;
  #setUp: Promise<void> | undefined;
  /** Projection tables known to exist, with their columns. */
  readonly #known = new Map<string, Set<string>>();
  /** DDL runs one at a time. */
  #ddl: Promise<unknown> = Promise.resolve();
  /**
   * Each object's cursor as this sink last committed it. Only a guess (another node may have
   * moved it since): the next apply moves it on only if it is still there.
   */
  readonly #cursors = new Map<string, number>();
  /** The name each parameterized statement is prepared under, by its text. */
  readonly #statementNames = new Map<string, string>();

  /** `url`: a PostgreSQL connection URL; `?schema=` picks the schema (default `stead_feed`). */
  constructor(url: string) {
    const parsed = new URL(url);
    const schema = parsed.searchParams.get("schema") ?? "stead_feed";
    parsed.searchParams.delete("schema");
    this.name = redactUrl(url);
    this.#tables = sinkTables(schema);
    this.#pool = new pg.Pool({
      connectionString: parsed.toString(),
      max: CONNECTIONS,
      application_name: "stead-feed",
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
    });
    // A broken idle connection is dropped by the pool; the next apply opens a new one.
    this.#pool.on("error", () => {});
  }

  async apply(batches: readonly ObjectBatch[]): Promise<BatchOutcome[]> {
    this.#setUp ??= this.#pool.query(setUpSql(this.#tables)).then(
      () => {},
      (error: unknown) => {
        this.#setUp = undefined;
        throw error;
      },
    );
    await this.#setUp;
    await this.#ensureProjections(batches);
    try {
      return await this.#applyTogether(batches);
    } catch (error) {
      if (!isRejection(error)) throw error;
    }
    // Something in the batch was refused: each object alone, commit by commit, to name it.
    const outcomes: BatchOutcome[] = [];
    for (const batch of batches) outcomes.push(await this.#applyLocating(batch));
    return outcomes;
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  /**
   * Every object of the call in one transaction. The cursors this sink last saw move first, each
   * only if still there (`moveCursorsStatement`); objects it has not seen, and any whose cursor
   * moved elsewhere, are locked and read, and their commits planned again from there. Then the
   * changes, in a few statements (`batchProjectionSql`, `rawChangesStatement`), and COMMIT.
   */
  async #applyTogether(batches: readonly ObjectBatch[]): Promise<BatchOutcome[]> {
    const client = await this.#connect();
    let broken: Error | undefined;
    const plans = batches.map((batch) => ({ batch, ...this.#plan(batch) }));
    try {
      await client.query("BEGIN");
      const optimistic = plans.filter((plan) => plan.known && plan.to !== plan.from);
      const unsure = new Set(plans.filter((plan) => !plan.known));
      const moves: CursorMove[] = [];
      if (optimistic.length > 0) {
        const { rows } = await this.#run<{ class: string; object_id: string }>(
          client,
          moveCursorsStatement(this.#tables, optimistic),
        );
        const moved = new Set(
          rows.map((row) => keyOf({ className: row.class, id: row.object_id })),
        );
        for (const plan of optimistic) if (!moved.has(keyOf(plan.batch))) unsure.add(plan);
      }
      if (unsure.size > 0) {
        // Locked now: plan again from what is there, and move them unconditionally.
        const found = await this.#lockCursors(
          client,
          [...unsure].map((plan) => plan.batch),
        );
        for (const plan of unsure) {
          Object.assign(plan, this.#plan(plan.batch, found.get(keyOf(plan.batch)) ?? 0));
          if (plan.to !== plan.from) moves.push(plan);
        }
      }
      const changes: ObjectChange[] = [];
      const raw: RawChange[] = [];
      for (const { batch, commits } of plans) {
        for (const commit of commits) {
          commit.changes.forEach((change, idx) => {
            changes.push({ className: batch.className, id: batch.id, change });
            raw.push(rawChange(batch, commit, idx, change));
          });
        }
      }
      const statements = batchProjectionSql(changes, (className, change) =>
        this.#projection(className, change),
      );
      if (moves.length > 0) statements.push(setCursorsStatement(this.#tables, moves));
      if (raw.length > 0) statements.push(rawChangesStatement(this.#tables, raw));
      statements.push("COMMIT");
      await this.#runAll(client, statements);
      for (const plan of plans) this.#cursors.set(keyOf(plan.batch), plan.to);
      return plans.map((plan) => ({ applied: plan.to, gap: plan.gap }));
    } catch (error) {
      // Whether it committed is unknown: the cursors are read again next time.
      for (const plan of plans) this.#cursors.delete(keyOf(plan.batch));
      await client.query("ROLLBACK").catch((rollback: Error) => {
        broken = rollback;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * What applying `batch` does from `cursor` (default: the cursor this sink last saw, if any):
   * the commits, and where the cursor goes.
   */
  #plan(
    batch: ObjectBatch,
    cursor = this.#cursors.get(keyOf(batch)),
  ): { known: boolean; from: number; to: number; commits: FeedCommit[]; gap: boolean } {
    const from = cursor ?? 0;
    const { commits, gap } = commitsToApply(batch, from);
    return { known: cursor !== undefined, from, to: commits.at(-1)?.seq ?? from, commits, gap };
  }

  /** One object, each commit in a savepoint: applies those before a refused change. */
  async #applyLocating(batch: ObjectBatch): Promise<BatchOutcome> {
    const client = await this.#connect();
    let broken: Error | undefined;
    const key = keyOf(batch);
    this.#cursors.delete(key);
    try {
      await client.query("BEGIN");
      const start = (await this.#lockCursors(client, [batch])).get(key) ?? 0;
      let cursor = start;
      let failure: BatchOutcome | undefined;
      const { commits, gap } = commitsToApply(batch, cursor);
      for (const commit of commits) {
        await client.query("SAVEPOINT feed_commit");
        let table: string | undefined;
        try {
          for (const [idx, change] of commit.changes.entries()) {
            table = change.kind === "kv" ? "KV" : change.table;
            await client.query(
              projectionSql(this.#projection(batch.className, change), batch.id, change),
            );
            await this.#run(
              client,
              rawChangesStatement(this.#tables, [rawChange(batch, commit, idx, change)]),
            );
          }
          await client.query("RELEASE feed_commit");
          cursor = commit.seq;
        } catch (error) {
          if (!isRejection(error)) throw error;
          await client.query("ROLLBACK TO feed_commit");
          failure = {
            failed: { message: (error as Error).message, seq: commit.seq, table },
          };
          break;
        }
      }
      if (cursor !== start) {
        await this.#run(
          client,
          setCursorsStatement(this.#tables, [{ batch, from: start, to: cursor }]),
        );
      }
      await client.query("COMMIT");
      this.#cursors.set(key, cursor);
      if (failure !== undefined && "failed" in failure) {
        return { failed: { ...failure.failed, applied: cursor } };
      }
      return { applied: cursor, gap };
    } catch (error) {
      await client.query("ROLLBACK").catch((rollback: Error) => {
        broken = rollback;
      });
      if (isRejection(error)) {
        return { failed: { message: (error as Error).message, seq: undefined, table: undefined } };
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * A pooled connection. One that breaks while checked out (a cut, a restarted server) emits
   * "error" besides failing its query; the query's failure is what the apply reports.
   */
  async #connect(): Promise<pg.PoolClient> {
    const client = await this.#pool.connect();
    if (!client.listeners("error").includes(ignore)) client.on("error", ignore);
    return client;
  }

  /** Locks the objects' cursor rows (`lockCursorsStatement`) and returns them by key. */
  async #lockCursors(
    client: pg.PoolClient,
    batches: readonly ObjectBatch[],
  ): Promise<Map<string, number>> {
    const { rows } = await this.#run<{ class: string; object_id: string; seq: string }>(
      client,
      lockCursorsStatement(this.#tables, batches),
    );
    return new Map(
      rows.map((row) => [keyOf({ className: row.class, id: row.object_id }), Number(row.seq)]),
    );
  }

  /**
   * Runs statements in order: consecutive plain ones as one simple query (one round trip for an
   * object table's many updates), each parameterized one on its own.
   */
  async #runAll(
    client: pg.PoolClient,
    statements: ReadonlyArray<string | Statement>,
  ): Promise<void> {
    let text: string[] = [];
    for (const statement of statements) {
      if (typeof statement === "string") {
        text.push(statement);
        continue;
      }
      if (text.length > 0) await client.query(text.join(";\n"));
      text = [];
      await this.#run(client, statement);
    }
    if (text.length > 0) await client.query(text.join(";\n"));
  }

  /** Runs a statement: a parameterized one as a statement prepared once per connection. */
  #run<R extends pg.QueryResultRow = pg.QueryResultRow>(
    client: pg.PoolClient,
    statement: string | Statement,
  ): Promise<pg.QueryResult<R>> {
    if (typeof statement === "string") return client.query<R>(statement);
    let name = this.#statementNames.get(statement.text);
    if (name === undefined) {
      name = `stead_feed_${this.#statementNames.size + 1}`;
      this.#statementNames.set(statement.text, name);
    }
    return client.query<R>({ name, text: statement.text, values: statement.values });
  }

  #projection(className: string, change: FeedChange): string {
    return `${this.#tables.schema}.${q(projectionName(className, change))}`;
  }

  /** Creates missing projection tables and columns (one DDL at a time, outside the applies). */
  #ensureProjections(batches: readonly ObjectBatch[]): Promise<void> {
    const needed: Array<{ table: string; change: FeedChange }> = [];
    for (const batch of batches) {
      for (const commit of batch.commits) {
        for (const change of commit.changes) {
          const table = projectionName(batch.className, change);
          const known = this.#known.get(table);
          if (known === undefined) needed.push({ table, change });
          else if (change.kind === "row") {
            for (const column of Object.keys({ ...change.key, ...change.values })) {
              if (!known.has(column)) {
                needed.push({ table, change });
                break;
              }
            }
          }
        }
      }
    }
    if (needed.length === 0) return Promise.resolve();
    const run = this.#ddl.then(async () => {
      for (const { table, change } of needed) await this.#ensureProjection(table, change);
    });
    this.#ddl = run.catch(() => {});
    return run;
  }

  async #ensureProjection(table: string, change: FeedChange): Promise<void> {
    let known = this.#known.get(table);
    if (known === undefined) {
      const { rows } = await this.#pool.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
        [this.#tables.schema.slice(1, -1).replaceAll('""', '"'), table],
      );
      known = new Set(rows.map((row: { column_name: string }) => row.column_name));
      if (known.size === 0) {
        const qualified = `${this.#tables.schema}.${q(table)}`;
        if (change.kind === "kv") {
          await this.#pool.query(
            `CREATE TABLE IF NOT EXISTS ${qualified} (object_id text NOT NULL, key text NOT NULL, value jsonb, PRIMARY KEY (object_id, key))`,
          );
          known = new Set(["object_id", "key", "value"]);
        } else {
          const columns = { ...change.values, ...change.key };
          await this.#pool.query(
            `CREATE TABLE IF NOT EXISTS ${qualified} (object_id text NOT NULL, ${Object.entries(
              columns,
            )
              .map(([column, value]) => `${q(column)} ${columnType(value)}`)
              .join(", ")}, PRIMARY KEY (object_id, ${Object.keys(change.key).map(q).join(", ")}))`,
          );
          known = new Set(["object_id", ...Object.keys(columns)]);
        }
      }
      this.#known.set(table, known);
    }
    if (change.kind !== "row") return;
    for (const [column, value] of Object.entries({ ...change.key, ...change.values })) {
      if (known.has(column)) continue;
      await this.#pool.query(
        `ALTER TABLE ${this.#tables.schema}.${q(table)} ADD COLUMN IF NOT EXISTS ${q(column)} ${columnType(value)}`,
      );
      known.add(column);
    }
  }
}

function ignore(): void {}

/**
 * The server refused a statement for what it holds (a type mismatch, a missing column, a
 * constraint): the object's fault, not the sink's. Connection loss, a server shutting down, and
 * conflicts worth retrying as they are are the sink's.
 */
function isRejection(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError) || typeof error.code !== "string") return false;
  return !/^(08|40|53|57|58|XX)/.test(error.code);
}
