import { sendFromCurrent } from "./context.ts";

let installed = false;

/**
 * Makes the global `fetch` an output of the object that calls it: a request made after a write
 * leaves only once that write is durable, and its response comes back through the object's
 * input gate. Outside objects (in a Worker) `fetch` is unchanged. Idempotent.
 */
export function installFetchGate(): void {
  if (installed) return;
  installed = true;
  const original = globalThis.fetch;
  globalThis.fetch = function fetch(
    input: RequestInfo | URL,
    init?: RequestInit,
  ): Promise<Response> {
    // A Request's `signal` getter may not be the signal undici would copy from it (the server's
    // requests keep their client's signal outside undici): pass it on explicitly.
    const options =
      input instanceof Request && init?.signal === undefined
        ? { ...init, signal: input.signal }
        : init;
    return sendFromCurrent(() => original(input, options));
  };
}
