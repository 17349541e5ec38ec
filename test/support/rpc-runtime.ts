import { createRuntime } from "../../src/index.ts";
import { type StoreOptions, storageOptions } from "./storage.ts";

/** The RPC fixture module, shared by the id and RPC semantics tests. */
export const MAIN = new URL("../fixtures/rpc-worker.ts", import.meta.url);

/**
 * A runtime on the RPC fixture: ECHO and OTHER bound, GREETING in vars. On a fresh store unless
 * `store` is given (ids are the same only within one store).
 */
export async function start(store?: StoreOptions) {
  return createRuntime({
    // The module itself, not its URL (which would be bundled into a copy of its own), so that
    // fixture() is the module the runtime runs.
    main: await fixture(),
    ...(store ?? storageOptions()),
    durableObjects: { ECHO: "Echo", OTHER: "Other" },
    vars: { GREETING: "hi" },
  });
}

/** The fixture module the runtime runs. */
export async function fixture(): Promise<typeof import("../fixtures/rpc-worker.ts")> {
  return import(MAIN.href);
}
