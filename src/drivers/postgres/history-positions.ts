import { GENERATION_SPAN } from "../../core/storage/bookmarks.ts";

/**
 * Positions (`core/storage/bookmarks.ts`) of an object's states in PostgreSQL. A state is named
 * by the log row that made it (`txid`; 0 is the empty database). `generations` lists the log rows
 * that restores wrote, oldest first: restore `n` (1-based) starts generation `n`, whose index 0
 * is the state that row made. Generation 0 starts at txid 0. So positions grow with txids, and a
 * restore starts a new generation, as with the local driver.
 */

/** The position of the state after log row `txid`. */
export function positionOf(txid: number, generations: readonly number[]): number {
  let generation = 0;
  let start = 0;
  for (const [n, first] of generations.entries()) {
    if (first > txid) break;
    generation = n + 1;
    start = first;
  }
  return generation * GENERATION_SPAN + (txid - start);
}

/**
 * The log row whose state `position` names: the newest state of its generation at or before
 * it (an index past a generation's end names that generation's newest state, the one a later
 * restore replaced). Undefined for a generation the object never had. `head` is the newest row.
 */
export function txidOf(
  position: number,
  generations: readonly number[],
  head: number,
): number | undefined {
  const generation = Math.floor(position / GENERATION_SPAN);
  if (generation > generations.length) return undefined;
  const start = generation === 0 ? 0 : generations[generation - 1]!;
  const next = generations[generation];
  const end = next === undefined ? head : next - 1;
  return Math.min(start + (position % GENERATION_SPAN), end);
}

/** SQL for a log row's commit time (epoch ms): the runtime's clock, or PostgreSQL's for rows older than history. */
export const ROW_TIME = "COALESCE(time, (extract(epoch FROM committed_at) * 1000)::bigint)";
