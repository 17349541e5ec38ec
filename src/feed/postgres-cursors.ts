import type { ObjectBatch } from "./feed-sink.ts";
import { columns, type SinkTables, type Statement } from "./postgres-statements.ts";

/** Where one object's cursor goes in an apply call. */
export interface CursorMove {
  batch: ObjectBatch;
  /** The cursor the sink last saw for it (the optimistic move's condition). */
  from: number;
  to: number;
}

/**
 * Moves the cursors of objects whose cursor this sink last saw (`from`) in one statement, each
 * only if it is still there: an object whose cursor someone else moved meanwhile (another node,
 * a restart's catch-up) is left as it was and not returned; the caller reads it
 * (`lockCursorsStatement`) and plans again. One write per object and no separate lock: the
 * UPDATE locks the rows it moves until the transaction ends (in key order, as the lock does).
 */
export function moveCursorsStatement(tables: SinkTables, moves: readonly CursorMove[]): Statement {
  const sorted = [...moves].sort((a, b) => compare(keyOf(a.batch), keyOf(b.batch)));
  return {
    text: `UPDATE ${tables.cursors} AS c SET seq = v.seq, object_name = coalesce(v.name, c.object_name), updated_at = now()
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[]) AS v (class, object_id, expected, seq, name)
WHERE c.class = v.class AND c.object_id = v.object_id AND c.seq = v.expected
RETURNING c.class, c.object_id`,
    values: columns(sorted, [
      (m) => m.batch.className,
      (m) => m.batch.id,
      (m) => m.from,
      (m) => m.to,
      (m) => m.batch.name ?? null,
    ]),
  };
}

/**
 * Locks the objects' cursor rows and returns them (made at 0 when new): an upsert that changes
 * nothing still locks its row and returns it. In key order, so two callers never wait on each
 * other in a cycle.
 */
export function lockCursorsStatement(
  tables: SinkTables,
  batches: readonly ObjectBatch[],
): Statement {
  const sorted = [...batches].sort((a, b) => compare(keyOf(a), keyOf(b)));
  return {
    text: `INSERT INTO ${tables.cursors} AS c (class, object_id, seq)
SELECT class, object_id, 0 FROM unnest($1::text[], $2::text[]) AS v (class, object_id)
ON CONFLICT (class, object_id) DO UPDATE SET seq = c.seq RETURNING class, object_id, seq`,
    values: columns(sorted, [(b) => b.className, (b) => b.id]),
  };
}

/** Sets the cursors of objects whose rows this transaction locked (`lockCursorsStatement`). */
export function setCursorsStatement(tables: SinkTables, moves: readonly CursorMove[]): Statement {
  return {
    text: `UPDATE ${tables.cursors} AS c SET seq = v.seq, object_name = coalesce(v.name, c.object_name), updated_at = now()
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS v (class, object_id, seq, name)
WHERE c.class = v.class AND c.object_id = v.object_id`,
    values: columns(moves, [
      (m) => m.batch.className,
      (m) => m.batch.id,
      (m) => m.to,
      (m) => m.batch.name ?? null,
    ]),
  };
}

/** The key a sink knows an object's cursor by. */
export function keyOf(batch: { className: string; id: string }): string {
  return `${batch.className}/${batch.id}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
