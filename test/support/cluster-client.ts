// A client of the cluster tests' app (test/fixtures/cluster-worker.ts): appends to an object's
// list through one node, as the tests' clients do, remembering why the last append failed.
import type { Served } from "../fixtures/cluster-worker.ts";

let last = "";

/** Why the last `append` failed: the status and body, or the connection error. */
export function lastFailure(): string {
  return last;
}

/** Appends `value` to object `name` through `node`; undefined when it failed (see `lastFailure`). */
export async function append(
  node: { url: string },
  name: string,
  value: string,
  timeoutMs = 10_000,
): Promise<Served | undefined> {
  try {
    const response = await fetch(`${node.url}/${name}`, {
      method: "POST",
      body: value,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) {
      last = `${response.status} ${await response.text()}`;
      return undefined;
    }
    return (await response.json()) as Served;
  } catch (error) {
    // fetch() says only "fetch failed"; the reason (refused, reset, closed) is its cause.
    const cause = (error as Error).cause;
    last = cause === undefined ? String(error) : `${String(error)}: ${String(cause)}`;
    return undefined;
  }
}
