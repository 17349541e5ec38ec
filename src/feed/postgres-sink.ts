import pg from "pg";
import type { FeedChange } from "./feed-changes.ts";
import {
  type BatchOutcome,
  commitsToApply,
  type FeedSink,
  type ObjectBatch,
  redactUrl,
} from "./feed-sink.ts";
import { batchProjectionSql, type ObjectChange } from "./postgres-batch-sql.ts";
import {
  columnType,
  projectionName,
  projectionSql,
  q,
  rawChangeRow,
  type SinkTables,
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
   * Every object of the call in one transaction of two round trips, its changes in a few
   * statements (`batchProjectionSql`).
   */
  async #applyTogether(batches: readonly ObjectBatch[]): Promise<BatchOutcome[]> {
    const client = await this.#connect();
    let broken: Error | undefined;
    try {
      const cursors = await this.#lockCursors(client, batches);
      const changes: ObjectChange[] = [];
      const raw: string[] = [];
      const moved: Array<{ batch: ObjectBatch; seq: number }> = [];
      const applied = batches.map((batch, i) => {
        let cursor = cursors[i]!;
        const { commits, gap } = commitsToApply(batch, cursor);
        for (const commit of commits) {
          commit.changes.forEach((change, idx) => {
            changes.push({ className: batch.className, id: batch.id, change });
            raw.push(rawChangeRow(batch.className, batch.id, commit.seq, idx, commit.at, change));
          });
          cursor = commit.seq;
        }
        if (cursor !== cursors[i]) moved.push({ batch, seq: cursor });
        return { applied: cursor, gap };
      });
      const statements = batchProjectionSql(changes, (className, change) =>
        this.#projection(className, change),
      );
      if (moved.length > 0) statements.push(this.#cursorsSql(moved));
      if (raw.length > 0) {
        statements.push(
          `INSERT INTO ${this.#tables.changes} (class, object_id, seq, idx, at, kind, "table", op, key, "values") VALUES ${raw.join(", ")} ON CONFLICT DO NOTHING`,
        );
      }
      statements.push("COMMIT");
      await client.query(statements.join(";\n"));
      return applied;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollback: Error) => {
        broken = rollback;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** One object, each commit in a savepoint: applies those before a refused change. */
  async #applyLocating(batch: ObjectBatch): Promise<BatchOutcome> {
    const client = await this.#connect();
    let broken: Error | undefined;
    try {
      const [start] = await this.#lockCursors(client, [batch]);
      let cursor = start!;
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
            await client.query(
              `INSERT INTO ${this.#tables.changes} (class, object_id, seq, idx, at, kind, "table", op, key, "values") VALUES ${rawChangeRow(batch.className, batch.id, commit.seq, idx, commit.at, change)} ON CONFLICT DO NOTHING`,
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
      if (cursor !== start) await client.query(this.#cursorsSql([{ batch, seq: cursor }]));
      await client.query("COMMIT");
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

  /**
   * Opens the transaction and locks the objects' cursor rows (made at 0 when new) in one
   * statement: an upsert that changes nothing still locks its row and returns it.
   */
  async #lockCursors(client: pg.PoolClient, batches: readonly ObjectBatch[]): Promise<number[]> {
    const rows = batches
      .map((batch) => ({ key: `${batch.className}/${batch.id}`, batch }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(
        ({ batch }) => `(${pg.escapeLiteral(batch.className)}, ${pg.escapeLiteral(batch.id)}, 0)`,
      );
    const results = (await client.query(
      `BEGIN;
INSERT INTO ${this.#tables.cursors} AS c (class, object_id, seq) VALUES ${rows.join(", ")}
ON CONFLICT (class, object_id) DO UPDATE SET seq = c.seq RETURNING class, object_id, seq`,
    )) as unknown as pg.QueryResult[];
    const found = results.at(-1)!.rows as Array<{ class: string; object_id: string; seq: string }>;
    const seqs = new Map(found.map((row) => [`${row.class}/${row.object_id}`, Number(row.seq)]));
    return batches.map((batch) => seqs.get(`${batch.className}/${batch.id}`) ?? 0);
  }

  /** Moves the cursors of the objects in `moved` (one statement for them all). */
  #cursorsSql(moved: Array<{ batch: ObjectBatch; seq: number }>): string {
    const values = moved.map(
      ({ batch, seq }) =>
        `(${pg.escapeLiteral(batch.className)}, ${pg.escapeLiteral(batch.id)}, ${seq}::bigint, ${
          batch.name === undefined ? "NULL" : pg.escapeLiteral(batch.name)
        })`,
    );
    return `UPDATE ${this.#tables.cursors} AS c SET seq = v.seq, object_name = coalesce(v.name, c.object_name), updated_at = now() FROM (VALUES ${values.join(", ")}) AS v (class, object_id, seq, name) WHERE c.class = v.class AND c.object_id = v.object_id`;
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
