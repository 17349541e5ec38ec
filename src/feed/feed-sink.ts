import type { FeedCommit } from "./feed-changes.ts";

/** One object's commits to apply, oldest first, each once (a sink skips those it applied). */
export interface ObjectBatch {
  /** The exported class name (what sinks name things after). */
  className: string;
  /** The object's id (64 hex). */
  id: string;
  /** The name the id was made from, when known. */
  name: string | undefined;
  commits: FeedCommit[];
}

/** Why one object's commits could not be applied: the commit and table that failed, when known. */
export interface ApplyFailure {
  message: string;
  seq: number | undefined;
  table: string | undefined;
  /** The object's cursor after the commits before the failing one were applied, when it moved. */
  applied?: number;
}

/** What a sink did with one object's batch. */
export type BatchOutcome =
  /** Every commit up to `applied` (the object's sink cursor) is applied. */
  { applied: number } | { failed: ApplyFailure };

/** Where the feed ships to: a PostgreSQL projection, a JetStream stream. */
export interface FeedSink {
  /** The sink's address with any password removed, for logs and status. */
  readonly name: string;
  /**
   * Applies each object's commits in order, idempotently (a commit at or below the object's
   * durable cursor is skipped, so redelivery never applies twice), and advances the cursor with
   * them. Outcomes come back in the order of `batches`; one object's failure does not fail
   * another's. Rejects only when nothing could be applied (the sink is unreachable).
   */
  apply(batches: readonly ObjectBatch[]): Promise<BatchOutcome[]>;
  /** Closes its connections. */
  close(): Promise<void>;
}

/** The address of a sink with its password removed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//***@");
  }
}
