import { createRuntime } from "../../src/index.ts";

/** The RPC fixture module, shared by the id and RPC semantics tests. */
export const MAIN = new URL("../fixtures/rpc-worker.ts", import.meta.url);

/**
 * A runtime on the RPC fixture: ECHO and OTHER bound, GREETING in vars. On a temporary data
 * directory unless `dataDir` is given (ids are the same only within one data directory).
 */
export function start(dataDir?: string) {
  return createRuntime({
    main: MAIN,
    dataDir,
    durableObjects: { ECHO: "Echo", OTHER: "Other" },
    vars: { GREETING: "hi" },
  });
}

/** The fixture module the runtime loaded (same URL, so the same module instance). */
export async function fixture(): Promise<typeof import("../fixtures/rpc-worker.ts")> {
  return import(MAIN.href);
}
