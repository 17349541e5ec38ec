// Platform objects in storage, as workerd serializes them (issue 9, part 6): Request, Response
// and Headers without bodies, Blob and DOMException are stored and come back equal, through the
// async KV API, the sync KV API and transactions, and after a restart; URL, File, streams,
// AbortSignal, FormData, Event… are a DataCloneError with workerd's text, nothing is written, and
// the surrounding transaction goes on. Never `{}`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { failureOf } from "../support/errors.ts";
import {
  assertDataCloneError,
  assertSameValue,
  REFUSED,
  REFUSED_OUTSIDE_RPC,
  STORED,
} from "../support/platform-values.ts";
import { testStore } from "../support/storage.ts";
import { inObject, startStorageRuntime } from "../support/storage-harness.ts";

const ALL_REFUSED = [...REFUSED, ...REFUSED_OUTSIDE_RPC];

describe("platform objects workerd stores", () => {
  for (const { name, make } of STORED) {
    it(`${name}: put/get, kv.put/get and a transaction give it back equal`, async () => {
      await using rt = await startStorageRuntime();
      await inObject(rt, "stored", async (_, ctx) => {
        const original = make();
        await ctx.storage.put("async", original);
        await assertSameValue(await ctx.storage.get("async"), original);
        ctx.storage.kv.put("sync", original);
        await assertSameValue(ctx.storage.kv.get("sync"), original);
        await ctx.storage.transaction(async (txn) => {
          await txn.put("txn", original);
          await assertSameValue(await txn.get("txn"), original);
        });
        await ctx.storage.put({ batch: [original, { nested: new Map([["k", original]]) }] });
        const batch = (await ctx.storage.get("batch")) as [object, { nested: Map<string, object> }];
        await assertSameValue(batch[0], original);
        await assertSameValue(batch[1].nested.get("k"), original);
      });
      // Read back in a later event, and by an RPC caller (an RPC result).
      const stub = rt.env.STORE.getByName("stored");
      await assertSameValue(await stub.read("async"), make());
      await assertSameValue(await stub.read("sync"), make());
    });
  }

  it("survive a restart", async () => {
    using store = testStore();
    {
      await using rt = await startStorageRuntime(store.options);
      await inObject(rt, "restart", async (_, ctx) => {
        for (const [i, { make }] of STORED.entries()) await ctx.storage.put(`k${i}`, make());
      });
    }
    await using rt = await startStorageRuntime(store.options);
    await inObject(rt, "restart", async (_, ctx) => {
      for (const [i, { make }] of STORED.entries()) {
        await assertSameValue(await ctx.storage.get(`k${i}`), make());
      }
    });
  });

  it("keeps one object met twice as one object, beside typed arrays and Buffers", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "identity", async (_, ctx) => {
      const headers = new Headers({ a: "1" });
      const value = {
        headers,
        again: headers,
        list: [headers],
        bytes: new Uint16Array([1, 2, 3]),
        buffer: Buffer.from("buf"),
      };
      await ctx.storage.put("k", value);
      const copy = (await ctx.storage.get("k")) as typeof value;
      assert.ok(copy.headers instanceof Headers);
      assert.equal(copy.again, copy.headers);
      assert.equal(copy.list[0], copy.headers);
      assert.deepEqual(copy.bytes, new Uint16Array([1, 2, 3]));
      assert.deepEqual(copy.buffer, Buffer.from("buf"));
      assert.deepEqual([...copy.headers], [["a", "1"]]);
    });
  });
});

describe("platform objects workerd refuses", () => {
  for (const { name, make, message } of ALL_REFUSED) {
    it(`${name}: a DataCloneError with workerd's text, nothing written`, async () => {
      await using rt = await startStorageRuntime();
      await inObject(rt, "refused", async (_, ctx) => {
        await ctx.storage.put("k", "before");
        assertDataCloneError(await failureOf(() => ctx.storage.put("k", make())), message);
        assertDataCloneError(
          await failureOf(() => ctx.storage.put("k", [{ deep: make() }])),
          message,
        );
        assertDataCloneError(
          await failureOf(() => ctx.storage.put({ fresh: 1, k: new Map([[1, make()]]) })),
          message,
        );
        assertDataCloneError(await failureOf(() => ctx.storage.kv.put("k", make())), message);
        assert.equal(await ctx.storage.get("k"), "before");
        assert.equal(await ctx.storage.get("fresh"), undefined);
      });
    });
  }

  it("a refused value inside a transaction leaves the transaction going, and it commits", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "txn", async (_, ctx) => {
      await ctx.storage.transaction(async (txn) => {
        await txn.put("a", 1);
        assertDataCloneError(
          await failureOf(() => txn.put("b", new URL("https://example.com/"))),
          REFUSED.find((c) => c.name === "URL")!.message,
        );
        await txn.put("c", new Headers({ c: "3" }));
      });
      ctx.storage.transactionSync(() => {
        ctx.storage.kv.put("d", 4);
        assert.throws(() => ctx.storage.kv.put("e", new ReadableStream()), {
          name: "DataCloneError",
        });
      });
    });
    const entries: Array<[string, unknown]> = await rt.env.STORE.getByName("txn").entries();
    assert.deepEqual(
      entries.map(([k, v]) => [k, v instanceof Headers ? [...v] : v]),
      [
        ["a", 1],
        ["c", [["c", "3"]]],
        ["d", 4],
      ],
    );
  });
});

describe("other values, as workerd stores them", () => {
  it("an error keeps its type, message and cause, platform objects in the cause too", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "errors", async (_, ctx) => {
      const original = new RangeError("outer", { cause: { headers: new Headers({ a: "1" }) } });
      await ctx.storage.put("error", original);
      const copy = (await ctx.storage.get("error")) as RangeError;
      assert.ok(copy instanceof RangeError);
      assert.equal(copy.message, "outer");
      assert.equal(copy.stack, original.stack);
      await assertSameValue((copy.cause as { headers: Headers }).headers, new Headers({ a: "1" }));
    });
  });

  it("class instances keep their own properties as a plain object; getters are read", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "plain", async (_, ctx) => {
      class Point {
        x = 1;
        y = 2;
        get sum(): number {
          return this.x + this.y;
        }
      }
      const withGetter = {
        get g() {
          return 5;
        },
      };
      await ctx.storage.put("point", new Point());
      await ctx.storage.put("getter", withGetter);
      await ctx.storage.put("nullProto", Object.assign(Object.create(null), { a: 1 }));
      const point = await ctx.storage.get("point");
      assert.equal(Object.getPrototypeOf(point), Object.prototype);
      assert.deepEqual(point, { x: 1, y: 2 });
      assert.deepEqual(await ctx.storage.get("getter"), { g: 5 });
      assert.deepEqual(await ctx.storage.get("nullProto"), { a: 1 });
    });
  });
});
