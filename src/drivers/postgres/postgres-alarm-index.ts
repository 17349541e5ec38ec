import { randomUUID } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import type {
  AlarmCounts,
  AlarmIndex,
  AlarmRecord,
  DeadLetterRecord,
  SharedAlarmIndex,
} from "../../core/storage/driver.ts";
import { alarmRecordOf, LocalAlarmIndex } from "../local/alarm-index.ts";
import { withinTimeout } from "./answer-timeout.ts";
import type { PgPool } from "./pg-pool.ts";

type AlarmChange = { kind: "set"; record: AlarmRecord } | { kind: "delete" };
type KeyedChange = AlarmChange & { namespace: string; id: string };

/** Alarms of the head re-read by `refresh`: enough for the scheduler's next wake-ups. */
const HEAD = 64;

const COLUMNS = "namespace, id, name, time, scheduled_time, retry_count";

/**
 * The alarm index in PostgreSQL's `alarms` table, which every process and object thread on the
 * same storage shares. Writes change what this process knows at once and are shipped by `flush`,
 * which every object flush waits for: an index write made before an object's commit is durable
 * no later than that commit, as the seam requires.
 *
 * Reads are synchronous, so they come from what this process knows: `get` from the rows of the
 * objects it prepared (loaded by `learn`) and wrote; `earliest` from a cache of the table's head,
 * re-read by `refresh`. Due alarms are taken with `claimDue`, which holds them for one scheduler
 * (`FOR UPDATE SKIP LOCKED`, a lease in `claimed_until`); a write to an alarm ends its claim.
 */
export class PostgresAlarmIndex implements AlarmIndex, SharedAlarmIndex {
  readonly shared: SharedAlarmIndex = this;
  readonly #pool: PgPool;
  readonly #S: string;
  readonly #timeoutMs: number;
  /** This index's name in `claimed_by`, so its claims can be given back at close. */
  readonly #me = randomUUID();
  /** The head cache and the dead letters, in an in-memory SQLite (the local index's code). */
  readonly #memory: DatabaseSync;
  #closed = false;
  readonly #head: LocalAlarmIndex;
  /** The alarm of each object this process prepared or wrote (null: none). */
  readonly #known = new Map<string, AlarmRecord | null>();
  /** Changes not yet shipped, by `namespace/id`, the last one winning. */
  #pending = new Map<string, KeyedChange>();
  #pendingDead: DeadLetterRecord[] = [];
  /** Objects whose dead letters in PostgreSQL are to be removed, after `#pendingDead` is in. */
  #pendingDiscards: { namespace: string; id: string }[] = [];
  /** The shipment in flight, if any; the next one starts after it. */
  #shipping: Promise<void> = Promise.resolve();
  /** Changes made while a `refresh` reads the head, replayed over what it read. */
  #duringRefresh: KeyedChange[] | undefined;
  /** Told after a shipment that set an alarm reached PostgreSQL. */
  readonly #onShipped: (() => void) | undefined;

  private constructor(pool: PgPool, S: string, timeoutMs: number, onShipped?: () => void) {
    this.#pool = pool;
    this.#S = S;
    this.#timeoutMs = timeoutMs;
    this.#onShipped = onShipped;
    this.#memory = new DatabaseSync(":memory:");
    this.#head = new LocalAlarmIndex(this.#memory, () => {});
  }

  /**
   * `timeoutMs`: how long a shipment may go unanswered before it counts as failed. `onShipped`:
   * told when alarms this index set are in PostgreSQL, for schedulers elsewhere to re-read.
   */
  static async load(
    pool: PgPool,
    S: string,
    timeoutMs: number,
    onShipped?: () => void,
  ): Promise<PostgresAlarmIndex> {
    const index = new PostgresAlarmIndex(pool, S, timeoutMs, onShipped);
    const dead = await pool.query(
      `SELECT namespace, id, name, scheduled_time, retry_count, error, failed_at FROM ${S}.dead_letters ORDER BY seq`,
    );
    for (const row of dead) index.#head.deadLetter(deadLetterOf(row));
    return index;
  }

  /** Records what PostgreSQL holds for one object, read when this process prepared it. */
  learn(namespace: string, id: string, record: AlarmRecord | undefined): void {
    const key = `${namespace}/${id}`;
    // A change not yet shipped is newer than what was read.
    if (!this.#pending.has(key)) this.#known.set(key, record ?? null);
  }

  set(record: AlarmRecord): void {
    this.#change({
      kind: "set",
      namespace: record.namespace,
      id: record.id,
      record: { ...record },
    });
  }

  delete(namespace: string, id: string): void {
    this.#change({ kind: "delete", namespace, id });
  }

  /** Forgets a deleted namespace's alarms here; PostgreSQL's go with the control commit. */
  deleteNamespace(namespace: string): void {
    this.#head.deleteNamespace(namespace);
    for (const [key, change] of this.#pending) {
      if (change.namespace === namespace) this.#pending.delete(key);
    }
    for (const key of this.#known.keys()) {
      if (key.startsWith(`${namespace}/`)) this.#known.delete(key);
    }
  }

  get(namespace: string, id: string): AlarmRecord | undefined {
    const record = this.#known.get(`${namespace}/${id}`);
    return record == null ? undefined : { ...record };
  }

  earliest(limit: number): AlarmRecord[] {
    return this.#head.earliest(limit);
  }

  deadLetter(record: DeadLetterRecord): void {
    this.#change({ kind: "delete", namespace: record.namespace, id: record.id });
    this.#head.deadLetter(record);
    this.#pendingDead.push({ ...record });
  }

  deadLetters(): DeadLetterRecord[] {
    return this.#head.deadLetters();
  }

  discardDeadLetters(namespace: string, id: string): number {
    const removed = this.#head.discardDeadLetters(namespace, id);
    // Letters not shipped yet are simply not shipped; those in PostgreSQL go with the next shipment.
    this.#pendingDead = this.#pendingDead.filter(
      (letter) => letter.namespace !== namespace || letter.id !== id,
    );
    this.#pendingDiscards.push({ namespace, id });
    return removed;
  }

  async counts(now: number): Promise<AlarmCounts> {
    const [row] = await withinTimeout(
      this.#pool.query(
        `SELECT (SELECT count(*) FROM ${this.#S}.alarms WHERE time <= $1)::int AS due,
                (SELECT count(*) FROM ${this.#S}.alarms WHERE retry_count > 0)::int AS retrying,
                (SELECT count(*) FROM ${this.#S}.dead_letters)::int AS dead`,
        [now],
      ),
      this.#timeoutMs,
    );
    return {
      due: Number(row?.due ?? 0),
      retrying: Number(row?.retrying ?? 0),
      deadLetters: Number(row?.dead ?? 0),
    };
  }

  async claimDue(now: number, limit: number, leaseMs: number): Promise<AlarmRecord[]> {
    await this.flush();
    const rows = await withinTimeout(
      this.#pool.query(
        `UPDATE ${this.#S}.alarms a SET claimed_by = $1, claimed_until = $2::bigint + $3::bigint
         FROM (SELECT namespace, id FROM ${this.#S}.alarms
               WHERE time <= $2 AND (claimed_until IS NULL OR claimed_until <= $2)
               ORDER BY time LIMIT $4 FOR UPDATE SKIP LOCKED) due
         WHERE a.namespace = due.namespace AND a.id = due.id
         RETURNING a.namespace, a.id, a.name, a.time, a.scheduled_time, a.retry_count`,
        [this.#me, now, leaseMs, limit],
      ),
      this.#timeoutMs,
    );
    const claimed = rows.map(alarmRecordOf);
    // What the cache has as due and was not claimed is held by another scheduler or gone: the
    // next refresh brings it back once its lease ends.
    const taken = new Set(claimed.map((record) => `${record.namespace}/${record.id}`));
    for (const record of this.#head.earliest(limit + taken.size)) {
      if (record.time > now) break;
      if (!taken.has(`${record.namespace}/${record.id}`)) {
        this.#head.delete(record.namespace, record.id);
      }
    }
    return claimed;
  }

  async allDeadLetters(): Promise<DeadLetterRecord[]> {
    await this.flush();
    const rows = await withinTimeout(
      this.#pool.query(
        `SELECT namespace, id, name, scheduled_time, retry_count, error, failed_at FROM ${this.#S}.dead_letters ORDER BY seq DESC`,
      ),
      this.#timeoutMs,
    );
    return rows.map(deadLetterOf);
  }

  async renewClaims(now: number, leaseMs: number): Promise<void> {
    await withinTimeout(
      this.#pool.query(
        `UPDATE ${this.#S}.alarms SET claimed_until = $2::bigint + $3::bigint
         WHERE claimed_by = $1 AND claimed_until IS NOT NULL`,
        [this.#me, now, leaseMs],
      ),
      this.#timeoutMs,
    );
  }

  async refresh(now: number): Promise<void> {
    await this.flush();
    this.#duringRefresh = [];
    let rows: Record<string, unknown>[];
    try {
      rows = await withinTimeout(
        this.#pool.query(
          `SELECT ${COLUMNS} FROM ${this.#S}.alarms
           WHERE claimed_until IS NULL OR claimed_until <= $1 ORDER BY time LIMIT ${HEAD}`,
          [now],
        ),
        this.#timeoutMs,
      );
    } catch (error) {
      this.#duringRefresh = undefined;
      throw error;
    }
    const since = this.#duringRefresh;
    this.#duringRefresh = undefined;
    // The index closed while the read was in flight (shutdown): its head is gone.
    if (this.#closed) return;
    this.#head.clear();
    for (const row of rows) this.#head.set(alarmRecordOf(row));
    for (const change of since) this.#applyToHead(change);
  }

  /** Resolves once every change made before the call is in PostgreSQL. */
  flush(): Promise<void> {
    if (
      this.#pending.size === 0 &&
      this.#pendingDead.length === 0 &&
      this.#pendingDiscards.length === 0
    ) {
      return this.#shipping;
    }
    const changes = [...this.#pending.values()];
    const dead = this.#pendingDead;
    const discards = this.#pendingDiscards;
    this.#pending = new Map();
    this.#pendingDead = [];
    this.#pendingDiscards = [];
    const ship = () =>
      withinTimeout(this.#ship(changes, dead, discards), this.#timeoutMs).then(
        () => {
          if (changes.some((change) => change.kind === "set")) this.#onShipped?.();
        },
        (error: unknown) => {
          // Not in PostgreSQL for sure: kept for the next shipment, unless changed again since.
          for (const change of changes) {
            const key = `${change.namespace}/${change.id}`;
            if (!this.#pending.has(key)) this.#pending.set(key, change);
          }
          this.#pendingDead.unshift(...dead);
          this.#pendingDiscards.unshift(...discards);
          throw error;
        },
      );
    // One shipment at a time, in order: a later change of one alarm never lands first.
    this.#shipping = this.#shipping.then(ship, ship);
    return this.#shipping;
  }

  /** Gives back the alarms this index claimed, so the next scheduler need not wait for leases. */
  async close(): Promise<void> {
    await this.flush().catch(() => {});
    await this.#pool
      .query(
        `UPDATE ${this.#S}.alarms SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1`,
        [this.#me],
      )
      .catch(() => {});
    this.#closed = true;
    this.#memory.close();
  }

  #change(change: KeyedChange): void {
    const key = `${change.namespace}/${change.id}`;
    this.#known.set(key, change.kind === "set" ? change.record : null);
    this.#pending.set(key, change);
    this.#duringRefresh?.push(change);
    this.#applyToHead(change);
  }

  #applyToHead(change: KeyedChange): void {
    if (change.kind === "set") this.#head.set(change.record);
    else this.#head.delete(change.namespace, change.id);
  }

  async #ship(
    changes: KeyedChange[],
    dead: DeadLetterRecord[],
    discards: { namespace: string; id: string }[],
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
        // A write ends any claim on the alarm: it is a new one, due when it says.
        await tx.query(
          `INSERT INTO ${S}.alarms (${COLUMNS})
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::integer[])
           ON CONFLICT (namespace, id) DO UPDATE SET name = EXCLUDED.name, time = EXCLUDED.time,
             scheduled_time = EXCLUDED.scheduled_time, retry_count = EXCLUDED.retry_count,
             claimed_by = NULL, claimed_until = NULL`,
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
      for (const { namespace, id } of discards) {
        await tx.query(`DELETE FROM ${S}.dead_letters WHERE namespace = $1 AND id = $2`, [
          namespace,
          id,
        ]);
      }
    });
  }
}

/** A `dead_letters` row as a record. */
function deadLetterOf(row: Record<string, unknown>): DeadLetterRecord {
  return {
    namespace: row.namespace as string,
    id: row.id as string,
    name: (row.name as string | null) ?? undefined,
    scheduledTime: Number(row.scheduled_time),
    retryCount: Number(row.retry_count),
    error: row.error as string,
    failedAt: Number(row.failed_at),
  };
}
