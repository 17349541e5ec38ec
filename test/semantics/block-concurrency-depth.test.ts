// blockConcurrencyWhile() nests at most 64 deep, as in workerd: one more throws its error, and
// the enclosing calls unwind without resetting the object.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime, DurableObject } from "../../src/index.ts";
import { storageOptions } from "../support/storage.ts";

class Nester extends DurableObject {
  /** Nests `levels` calls, then tries one more inside them. */
  async probe(levels: number): Promise<string> {
    const nest = async (remaining: number): Promise<string> => {
      if (remaining > 0) return this.ctx.blockConcurrencyWhile(() => nest(remaining - 1));
      try {
        return await this.ctx.blockConcurrencyWhile(async () => "ok");
      } catch (error) {
        return (error as Error).message;
      }
    };
    return nest(levels);
  }
}

describe("blockConcurrencyWhile nesting", () => {
  it("allows 64 levels and refuses the 65th with workerd's error, leaving the object working", async () => {
    await using rt = await createRuntime({
      main: { Nester, default: { fetch: () => new Response() } },
      durableObjects: { NESTER: "Nester" },
      ...storageOptions(),
    });
    const stub = rt.env.NESTER.getByName("a");
    assert.equal(await stub.probe(63), "ok");
    assert.equal(await stub.probe(64), "blockConcurrencyWhile() calls are nested too deeply.");
    assert.equal(await stub.probe(1), "ok");
  });
});
