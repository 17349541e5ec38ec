/**
 * The seam between objects and a change feed: a runtime started with a feed gives each
 * namespace one `ChangeFeed`; the object's commits record their changes in `_cf_changes` (in the
 * same transaction) and hand them to it once durable. See docs/change-feed.md.
 */

/** One committed transaction's changes, as the object's `_cf_changes` table records them. */
export interface RecordedChanges {
  /** The object's commit sequence number: one more for each commit that changed a row. */
  seq: number;
  /** When it committed, epoch ms. */
  at: number;
  /** The session extension's changeset (`changeset-decoder.ts` reads it). */
  changeset: Uint8Array;
  /** The column names of every table in the changeset, as they were at that commit. */
  columns: Record<string, string[]>;
}

/** Where a namespace's captured changes go (the node's feed shipper). */
export interface ChangeFeed {
  /**
   * Takes an object's changes once their commit is durable, in `seq` order per object; the same
   * changes may be given again (a restart's catch-up), never out of order. Must not throw.
   */
  committed(
    namespace: string,
    id: string,
    name: string | undefined,
    changes: RecordedChanges[],
  ): void;
  /**
   * The highest `seq` of the object that every sink has applied, or 0: rows up to it may be
   * removed from `_cf_changes`.
   */
  shipped(namespace: string, id: string): number;
}
