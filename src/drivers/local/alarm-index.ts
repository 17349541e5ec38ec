import type { DatabaseSync, StatementSync } from "node:sqlite";
import type {
  AlarmCounts,
  AlarmIndex,
  AlarmRecord,
  DeadLetterRecord,
} from "../../core/storage/driver.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alarms (
  namespace TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT,
  time INTEGER NOT NULL,
  scheduled_time INTEGER NOT NULL,
  retry_count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (namespace, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alarms_by_time ON alarms (time);
CREATE INDEX IF NOT EXISTS alarms_retrying ON alarms (retry_count) WHERE retry_count > 0;
CREATE TABLE IF NOT EXISTS alarm_dead_letters (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT,
  scheduled_time INTEGER NOT NULL,
  retry_count INTEGER NOT NULL,
  error TEXT NOT NULL,
  failed_at INTEGER NOT NULL
);
`;

/** The alarm index in the node's control database. `onWrite` marks it for the next flush. */
export class LocalAlarmIndex implements AlarmIndex {
  readonly #upsert: StatementSync;
  readonly #delete: StatementSync;
  readonly #deleteNamespace: StatementSync;
  readonly #clear: StatementSync;
  readonly #get: StatementSync;
  readonly #earliest: StatementSync;
  readonly #addDeadLetter: StatementSync;
  readonly #deadLetters: StatementSync;
  readonly #discardDeadLetters: StatementSync;
  readonly #counts: StatementSync;
  readonly #onWrite: () => void;

  constructor(db: DatabaseSync, onWrite: () => void) {
    db.exec(SCHEMA);
    this.#upsert = db.prepare(
      `INSERT INTO alarms (namespace, id, name, time, scheduled_time, retry_count) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (namespace, id) DO UPDATE SET name = excluded.name, time = excluded.time,
         scheduled_time = excluded.scheduled_time, retry_count = excluded.retry_count`,
    );
    this.#delete = db.prepare("DELETE FROM alarms WHERE namespace = ? AND id = ?");
    this.#deleteNamespace = db.prepare("DELETE FROM alarms WHERE namespace = ?");
    this.#clear = db.prepare("DELETE FROM alarms");
    this.#get = db.prepare("SELECT * FROM alarms WHERE namespace = ? AND id = ?");
    this.#earliest = db.prepare("SELECT * FROM alarms ORDER BY time, namespace, id LIMIT ?");
    this.#addDeadLetter = db.prepare(
      `INSERT INTO alarm_dead_letters (namespace, id, name, scheduled_time, retry_count, error, failed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#deadLetters = db.prepare("SELECT * FROM alarm_dead_letters ORDER BY seq DESC");
    this.#discardDeadLetters = db.prepare(
      "DELETE FROM alarm_dead_letters WHERE namespace = ? AND id = ?",
    );
    // Both alarm counts read an index (by time; the partial one of retrying alarms), not the table.
    this.#counts = db.prepare(
      `SELECT (SELECT count(*) FROM alarms WHERE time <= ?) AS due,
              (SELECT count(*) FROM alarms WHERE retry_count > 0) AS retrying,
              (SELECT count(*) FROM alarm_dead_letters) AS dead`,
    );
    this.#onWrite = onWrite;
  }

  set(record: AlarmRecord): void {
    const { namespace, id, name, time, scheduledTime, retryCount } = record;
    this.#upsert.run(namespace, id, name ?? null, time, scheduledTime, retryCount);
    this.#onWrite();
  }

  delete(namespace: string, id: string): void {
    if (this.#delete.run(namespace, id).changes > 0) this.#onWrite();
  }

  /** Removes every alarm, keeping the dead letters. */
  clear(): void {
    if (this.#clear.run().changes > 0) this.#onWrite();
  }

  /** Removes every alarm of `namespace` (its class was deleted). */
  deleteNamespace(namespace: string): void {
    if (this.#deleteNamespace.run(namespace).changes > 0) this.#onWrite();
  }

  get(namespace: string, id: string): AlarmRecord | undefined {
    const row = this.#get.get(namespace, id);
    return row === undefined ? undefined : alarmRecordOf(row);
  }

  earliest(limit: number): AlarmRecord[] {
    return this.#earliest.all(limit).map(alarmRecordOf);
  }

  deadLetter(record: DeadLetterRecord): void {
    const { namespace, id, name, scheduledTime, retryCount, error, failedAt } = record;
    this.#addDeadLetter.run(
      namespace,
      id,
      name ?? null,
      scheduledTime,
      retryCount,
      error,
      failedAt,
    );
    this.#delete.run(namespace, id);
    this.#onWrite();
  }

  discardDeadLetters(namespace: string, id: string): number {
    const removed = Number(this.#discardDeadLetters.run(namespace, id).changes);
    if (removed > 0) this.#onWrite();
    return removed;
  }

  counts(now: number): Promise<AlarmCounts> {
    const row = this.#counts.get(now)!;
    return Promise.resolve({
      due: Number(row.due),
      retrying: Number(row.retrying),
      deadLetters: Number(row.dead),
    });
  }

  deadLetters(): DeadLetterRecord[] {
    return this.#deadLetters.all().map((row) => ({
      namespace: row.namespace as string,
      id: row.id as string,
      name: (row.name as string | null) ?? undefined,
      scheduledTime: Number(row.scheduled_time),
      retryCount: Number(row.retry_count),
      error: row.error as string,
      failedAt: Number(row.failed_at),
    }));
  }
}

/** An alarm index row (`namespace, id, name, time, scheduled_time, retry_count`) as a record. */
export function alarmRecordOf(row: Record<string, unknown>): AlarmRecord {
  return {
    namespace: row.namespace as string,
    id: row.id as string,
    name: (row.name as string | null) ?? undefined,
    time: Number(row.time),
    scheduledTime: Number(row.scheduled_time),
    retryCount: Number(row.retry_count),
  };
}
