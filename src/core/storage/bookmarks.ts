import { createHash } from "node:crypto";

/**
 * Point-in-time-recovery bookmarks, as Cloudflare writes them:
 * `0000007b-0000b26e-00000000-0c3e87bb37b3db5cc52eedb93cd3b96b`.
 *
 * A driver names each committed state of an object's database by a position, a number that
 * grows with every commit: `generation * 2^32 + index`. The generation grows by one with each
 * restore, so the position `generation * 2^32 + (2^32 - 1)` names "the newest state of that
 * generation", which is the state just before the next restore. The first two groups of a
 * bookmark are the position in fixed-width hex, so bookmarks of one object sort as their states
 * do; the third counts the current bookmarks this process has handed out, so each new one sorts
 * after the last even when no write came between them (as workerd's do); the last group is a digest of
 * the object and the position, so a bookmark edited by hand or taken from another object is
 * refused rather than restoring something unintended.
 */

/** Positions per restore generation. */
export const GENERATION_SPAN = 2 ** 32;

/** The position naming the newest state of `position`'s generation (just before a restore). */
export function endOfGeneration(position: number): number {
  return Math.floor(position / GENERATION_SPAN) * GENERATION_SPAN + (GENERATION_SPAN - 1);
}

/** Current bookmarks handed out by this process (`nextIssue()`). */
let issued = 0;

/** The third group of the next `getCurrentBookmark()`: one more than the last. */
export function nextIssue(): number {
  issued = (issued + 1) % GENERATION_SPAN;
  return issued;
}

/**
 * The bookmark of `position` for the object `objectKey` (namespace and id); `issue` is the third
 * group (0 for bookmarks that name a point rather than "now").
 */
export function formatBookmark(position: number, objectKey: string, issue = 0): string {
  const generation = Math.floor(position / GENERATION_SPAN);
  const index = position % GENERATION_SPAN;
  return `${hex8(generation)}-${hex8(index)}-${hex8(issue)}-${digest(objectKey, position)}`;
}

const BOOKMARK = /^([0-9a-f]{8})-([0-9a-f]{8})-[0-9a-f]{8}-([0-9a-f]{32})$/;

/** The position a bookmark of `objectKey` names, or undefined when it is not one. */
export function parseBookmark(bookmark: unknown, objectKey: string): number | undefined {
  if (typeof bookmark !== "string") return undefined;
  const match = BOOKMARK.exec(bookmark);
  if (match === null) return undefined;
  const position =
    Number.parseInt(match[1]!, 16) * GENERATION_SPAN + Number.parseInt(match[2]!, 16);
  return match[3] === digest(objectKey, position) ? position : undefined;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function digest(objectKey: string, position: number): string {
  return createHash("sha256").update(`${objectKey}\0${position}`).digest("hex").slice(0, 32);
}
