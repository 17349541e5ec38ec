import { DatabaseSync } from "node:sqlite";
import type { AlarmIndex, AlarmRecord, DeadLetterRecord } from "../../core/storage/driver.ts";
import { LocalAlarmIndex } from "../local/alarm-index.ts";
import { withinTimeout } from "./answer-timeout.ts";
import type { PgPool } from "./pg-pool.ts";

type AlarmChange = { kind: "set"; record: AlarmRecord } | { kind: "delete" };

/**
 * The alarm index in PostgreSQL, mirrored in an in-memory SQLite database (the local driver's
 * index code) so the scheduler reads it synchronously. Writes change the mirror at once and are
 * shipped by `flush`, which every object flush waits for: an index write made before an
 * object's commit is durable no later than that commit, as the seam requires.
 */
export class PostgresAlarmIndex implements AlarmIndex {
  readonly #pool: PgPool;
  readonly #S: string;
  readonly #mirror: LocalAlarmIndex;
  readonly #memory: DatabaseSync;
  /** Changes not yet shipped, by `namespace/id`, the last one winning. */
  #pending = new Map<string, AlarmChange & { namespace: string; id: string }>();
  #pendingDead: DeadLetterRecord[] = [];
  /** The shipment in flight, if any; the next one starts after it. */
  #shipping: Promise<void> = Promise.resolve();

  readonly #timeoutMs: number;

  private constructor(pool: PgPool, S: string, timeoutMs: number) {
    this.#pool = pool;
    this.#S = S;
    this.#timeoutMs = timeoutMs;
    this.#memory = new DatabaseSync(":memory:");
    this.#mirror = new LocalAlarmIndex(this.#memory, () => {});
  }

  /** `timeoutMs`: how long a shipment may go unanswered before it counts as failed. */
  static async load(pool: PgPool, S: string, timeoutMs: number): Promise<PostgresAlarmIndex> {
    const index = new PostgresAlarmIndex(pool, S, timeoutMs);
    const rows = await pool.query(
      `SELECT namespace, id, name, time, scheduled_time, retry_count FROM ${S}.alarms`,
    );
    for (const row of rows) {
      index.#mirror.set({
        namespace: row.namespace,
        id: row.id,
        name: row.name ?? undefined,
        time: Number(row.time),
        scheduledTime: Number(row.scheduled_time),
        retryCount: Number(row.retry_count),
      });
    }
    const dead = await pool.query(
      `SELECT namespace, id, name, scheduled_time, retry_count, error, failed_at FROM ${S}.dead_letters ORDER BY seq`,
    );
    for (const row of dead) {
      index.#mirror.deadLetter({
        namespace: row.namespace,
        id: row.id,
        name: row.name ?? undefined,
        scheduledTime: Number(row.scheduled_time),
        retryCount: Number(row.retry_count),
        error: row.error,
        failedAt: Number(row.failed_at),
      });
    }
    return index;
  }

  set(record: AlarmRecord): void {
    this.#mirror.set(record);
    this.#pending.set(`${record.namespace}/${record.id}`, {
      kind: "set",
      namespace: record.namespace,
      id: record.id,
      record: { ...record },
    });
  }

  delete(namespace: string, id: string): void {
    this.#mirror.delete(namespace, id);
    this.#pending.set(`${namespace}/${id}`, { kind: "delete", namespace, id });
  }

  /** Forgets a deleted namespace's alarms here; PostgreSQL's go with the control commit. */
  deleteNamespace(namespace: string): void {
    this.#mirror.deleteNamespace(namespace);
    for (const [key, change] of this.#pending) {
      if (change.namespace === namespace) this.#pending.delete(key);
    }
  }

  get(namespace: string, id: string): AlarmRecord | undefined {
    return this.#mirror.get(namespace, id);
  }

  earliest(limit: number): AlarmRecord[] {
    return this.#mirror.earliest(limit);
  }

  deadLetter(record: DeadLetterRecord): void {
    this.#mirror.deadLetter(record);
    this.#pending.set(`${record.namespace}/${record.id}`, {
      kind: "delete",
      namespace: record.namespace,
      id: record.id,
    });
    this.#pendingDead.push({ ...record });
  }

  deadLetters(): DeadLetterRecord[] {
    return this.#mirror.deadLetters();
  }

  /** Resolves once every change made before the call is in PostgreSQL. */
  flush(): Promise<void> {
    if (this.#pending.size === 0 && this.#pendingDead.length === 0) return this.#shipping;
    const changes = [...this.#pending.values()];
    const dead = this.#pendingDead;
    this.#pending = new Map();
    this.#pendingDead = [];
    const ship = () =>
      withinTimeout(this.#ship(changes, dead), this.#timeoutMs).catch((error: unknown) => {
        // Not in PostgreSQL for sure: kept for the next shipment, unless changed again since.
        for (const change of changes) {
          const key = `${change.namespace}/${change.id}`;
          if (!this.#pending.has(key)) this.#pending.set(key, change);
        }
        this.#pendingDead.unshift(...dead);
        throw error;
      });
    // One shipment at a time, in order: a later change of one alarm never lands first.
    this.#shipping = this.#shipping.then(ship, ship);
    return this.#shipping;
  }

  async #ship(
    changes: Array<AlarmChange & { namespace: string; id: string }>,
    dead: DeadLetterRecord[],
  ) {
    const S = this.#S;
    const sets = changes.flatMap((c) => (c.kind === "set" ? [c.record] : []));
    const deletes = changes.filter((c) => c.kind === "delete");
    await this.#pool.transaction(async (tx) => {
      if (deletes.length > 0) {
        await tx.query(
          `DELETE FROM ${S}.alarms a USING unnest($1::text[], $2::text[]) AS d(namespace, id)
           WHERE a.namespace = d.namespace AND a.id = d.id`,
          [deletes.map((c) => c.namespace), deletes.map((c) => c.id)],
        );
      }
      if (sets.length > 0) {
        await tx.query(
          `INSERT INTO ${S}.alarms (namespace, id, name, time, scheduled_time, retry_count)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::integer[])
           ON CONFLICT (namespace, id) DO UPDATE SET name = EXCLUDED.name, time = EXCLUDED.time,
             scheduled_time = EXCLUDED.scheduled_time, retry_count = EXCLUDED.retry_count`,
          [
            sets.map((r) => r.namespace),
            sets.map((r) => r.id),
            sets.map((r) => r.name ?? null),
            sets.map((r) => r.time),
            sets.map((r) => r.scheduledTime),
            sets.map((r) => r.retryCount),
          ],
        );
      }
      for (const r of dead) {
        await tx.query(
          `INSERT INTO ${S}.dead_letters (namespace, id, name, scheduled_time, retry_count, error, failed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [r.namespace, r.id, r.name ?? null, r.scheduledTime, r.retryCount, r.error, r.failedAt],
        );
      }
    });
  }

  close(): void {
    this.#memory.close();
  }
}
