// The rules for what a board accepts, shared by the Worker (which answers 400 with the message)
// and the object (which throws it to an RPC caller that broke them).

/** Longest player name, in characters. */
export const MAX_PLAYER_LENGTH = 64;

/** The most neighbours a standing shows on each side. */
export const MAX_AROUND = 10;

/** What is wrong with `player` as a player name, or undefined if nothing is. */
export function playerProblem(player: unknown): string | undefined {
  if (typeof player !== "string" || player.length === 0 || player.length > MAX_PLAYER_LENGTH) {
    return `player must be a name of 1 to ${MAX_PLAYER_LENGTH} characters`;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
  if (/[\u0000-\u001f\u007f]/.test(player)) return "player must not contain control characters";
  return undefined;
}

/** What is wrong with `score`, or undefined if nothing is. */
export function scoreProblem(score: unknown): string | undefined {
  if (typeof score !== "number" || !Number.isFinite(score)) {
    return `score must be a finite number (got ${shown(score)})`;
  }
  return undefined;
}

/** What is wrong with `n` as a count from `min` to `max`, or undefined if nothing is. */
export function countProblem(
  name: string,
  n: unknown,
  min: number,
  max: number,
): string | undefined {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    return `${name} must be a whole number from ${min} to ${max} (got ${shown(n)})`;
  }
  return undefined;
}

/** A value as a message shows it: numbers as numbers (NaN too), anything else as JSON. */
function shown(value: unknown): string {
  if (typeof value === "number") return String(value);
  return JSON.stringify(value) ?? "nothing";
}
