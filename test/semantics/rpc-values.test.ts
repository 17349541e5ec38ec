// Platform objects across JS RPC, as workerd serializes them: Headers, Blob, DOMException and
// bodiless Request/Response arrive equal as arguments and as results; File, URL, AbortSignal,
// FormData, Event… are workerd's DataCloneError either way. (Streams, and Requests and Responses
// with bodies, cross RPC too: rpc.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  assertDataCloneError,
  assertSameValue,
  REFUSED,
  STORED,
} from "../support/platform-values.ts";
import { start } from "../support/rpc-runtime.ts";

/** In-process RPC hands a Request or Response over by reference, its body a moving stream. */
const byReference = (value: unknown) => value instanceof Request || value instanceof Response;

describe("platform objects over RPC", () => {
  it("what workerd serializes arrives equal, as an argument and as a result", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("platform-values");
    for (const { name, make } of STORED) {
      const original = make();
      const fresh = !byReference(original);
      await assertSameValue(await stub.echo(original), original, fresh);
      const [nested] = (await stub.echo([{ inside: new Map([[1, original]]) }])) as [
        { inside: Map<number, unknown> },
      ];
      await assertSameValue(nested.inside.get(1), original, fresh);
      await assertSameValue(await stub.platformValue(name), make(), false);
    }
  });

  it("a Headers argument is a copy: later changes on either side are not seen", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.getByName("headers-copy");
    const headers = new Headers({ a: "1" });
    await stub.keep(headers);
    headers.set("a", "changed");
    const kept = (await stub.peek()) as Headers;
    assert.ok(kept instanceof Headers);
    assert.equal(kept.get("a"), "1");
  });

  for (const { name, make, message } of REFUSED) {
    it(`${name} is a DataCloneError with workerd's text, as an argument and as a result`, async () => {
      await using rt = await start();
      const stub = rt.env.ECHO.getByName("refused");
      await assert.rejects(stub.echo(make()), (error) => {
        assertDataCloneError(error, message);
        return true;
      });
      await assert.rejects(stub.echo({ list: [make()] }), (error) => {
        assertDataCloneError(error, message);
        return true;
      });
      await assert.rejects(stub.platformValue(name), (error) => {
        assertDataCloneError(error, message);
        return true;
      });
    });
  }
});
