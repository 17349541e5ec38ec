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
  /**
   * Apply only commits that continue the cursor without a hole (the next is cursor + 1): a
   * commit further on means older ones are not delivered yet (the object's recorded changes are
   * read again). False once they were read again and the hole stayed (changes trimmed before a
   * sink existed).
   */
  contiguous: boolean;
}

/** The commits of `batch` a sink at `cursor` applies now, in order: none past a hole. */
export function commitsToApply(
  batch: ObjectBatch,
  cursor: number,
): { commits: FeedCommit[]; gap: boolean } {
  const commits: FeedCommit[] = [];
  let last = cursor;
  for (const commit of batch.commits) {
    if (commit.seq <= last) continue;
    if (batch.contiguous && commit.seq !== last + 1) return { commits, gap: true };
    commits.push(commit);
    last = commit.seq;
  }
  return { commits, gap: false };
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
  /**
   * Every commit up to `applied` (the object's sink cursor) is applied; `gap`: the batch's next
   * commit does not continue it (older commits must be delivered first).
   */
  { applied: number; gap?: boolean } | { failed: ApplyFailure };

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
