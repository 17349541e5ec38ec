// The async and sync KV storage API as an app sees it (reference §3 and the KV rows of §13):
// single and batch get/put/delete, structured-clone values, list() ranges in UTF-8 order,
// deleteAll, transaction, transactionSync, sync, the options, and both backends' limits.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/index.ts";
import { failureOf } from "../support/errors.ts";
import { testStore } from "../support/storage.ts";
import {
  compareUtf8,
  inObject,
  sortUtf8,
  startStorageRuntime,
} from "../support/storage-harness.ts";

const PUT_SHAPE_MESSAGE =
  "put() may only be called with a single key-value pair and optional options as put(key, value, options) or with multiple key-value pairs and optional options as put(entries, options)";

// Keys whose UTF-16 order differs from their UTF-8 order: U+E000 and U+FFFF sort before an
// astral character (a surrogate pair, 0xD8xx) in UTF-16 but after it in UTF-8.
const MIXED_KEYS = [
  "a",
  "ab",
  "b",
  "z",
  "é",
  "\uE000",
  "\uFFFF",
  "\uFFFFx",
  "\u{10000}",
  "\u{1F600}",
  "\u{1F600}a",
  "\u{1F601}",
  "\u{10FFFF}",
  "\u{10FFFF}z",
];

function range(n: number, prefix = "k"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`);
}

describe("KV get/put/delete", () => {
  it("stores, reads and deletes one key", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "single", async (_, ctx) => {
      assert.equal(await ctx.storage.get("missing"), undefined);
      assert.equal(await ctx.storage.put("k", { n: 1 }), undefined);
      assert.deepEqual(await ctx.storage.get("k"), { n: 1 });
      await ctx.storage.put("k", "replaced");
      assert.equal(await ctx.storage.get("k"), "replaced");
      assert.equal(await ctx.storage.delete("k"), true);
      assert.equal(await ctx.storage.delete("k"), false);
      assert.equal(await ctx.storage.get("k"), undefined);
    });
    // Visible to the next event, and to RPC callers.
    await inObject(rt, "single", (_, ctx) => ctx.storage.put("after", 2));
    assert.equal(await rt.env.STORE.getByName("single").read("after"), 2);
  });

  it("get(keys) returns a Map of the keys that exist, in UTF-8 byte order", async () => {
    await using rt = await startStorageRuntime();
    const result = await inObject(rt, "batch-get", async (_, ctx) => {
      for (const key of MIXED_KEYS) await ctx.storage.put(key, `v:${key}`);
      const asked = ["nope", ...[...MIXED_KEYS].reverse(), "\u{1F602}", "a"];
      return ctx.storage.get(asked);
    });
    assert.ok(result instanceof Map);
    assert.deepEqual([...result.keys()], sortUtf8(MIXED_KEYS));
    for (const [key, value] of result) assert.equal(value, `v:${key}`);
  });

  it("put(entries) writes every pair and silently drops undefined values", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "batch-put", async (_, ctx) => {
      await ctx.storage.put("kept", "old");
      await ctx.storage.put({ a: 1, b: [2], kept: undefined, gone: undefined, "\u{1F600}": "😀" });
      assert.deepEqual(
        [...(await ctx.storage.list())],
        [
          ["a", 1],
          ["b", [2]],
          ["kept", "old"],
          ["\u{1F600}", "😀"],
        ],
      );
      // All-undefined entries are a no-op, not an error.
      await ctx.storage.put({ nothing: undefined });
      assert.equal(await ctx.storage.get("nothing"), undefined);
    });
  });

  it("delete(keys) deletes the keys that exist and returns how many did", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "batch-delete", async (_, ctx) => {
      await ctx.storage.put({ a: 1, b: 2, c: 3, "\u{10000}": 4 });
      assert.equal(await ctx.storage.delete(["a", "x", "\u{10000}", "y"]), 2);
      assert.deepEqual([...(await ctx.storage.list()).keys()], ["b", "c"]);
      assert.equal(await ctx.storage.delete([]), 0);
      assert.deepEqual(await ctx.storage.get([]), new Map());
    });
  });

  it("takes batches of up to 128 keys and rejects 129 with Cloudflare's RangeError", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "batch-limits", async (_, ctx) => {
      const keys128 = range(128);
      const keys129 = range(129);
      await ctx.storage.put(Object.fromEntries(keys128.map((k) => [k, k])));
      assert.equal((await ctx.storage.get(keys128)).size, 128);

      await assert.rejects(ctx.storage.get(keys129), {
        name: "RangeError",
        message: "Maximum number of keys is 128.",
      });
      await assert.rejects(
        ctx.storage.put(Object.fromEntries(range(129, "p").map((k) => [k, 1]))),
        {
          name: "RangeError",
          message: "Maximum number of pairs is 128.",
        },
      );
      await assert.rejects(ctx.storage.delete(keys129), {
        name: "RangeError",
        message: "Maximum number of keys is 128.",
      });
      // The rejected batches changed nothing.
      assert.equal((await ctx.storage.list({ prefix: "p" })).size, 0);
      assert.equal((await ctx.storage.list()).size, 128);

      // Undefined values do not count towards the limit: they are dropped first.
      const padded: Record<string, unknown> = Object.fromEntries(
        range(128, "q").map((k) => [k, 1]),
      );
      padded.extra = undefined;
      await ctx.storage.put(padded);
      assert.equal(await ctx.storage.delete(keys128), 128);
    });
  });

  it("put(key, undefined) is a TypeError and stores nothing", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "put-undefined", async (_, ctx) => {
      await ctx.storage.put("k", 1);
      await assert.rejects(ctx.storage.put("k", undefined), {
        name: "TypeError",
        message: "put() called with undefined value.",
      });
      assert.equal(await ctx.storage.get("k"), 1);
    });
  });

  it("put() with a wrong argument shape is the documented TypeError", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "put-shape", async (_, ctx) => {
      const put = ctx.storage.put as (...args: unknown[]) => Promise<void>;
      for (const args of [[], [null], [42, "v"], [true, "v"]]) {
        await assert.rejects(
          put.apply(ctx.storage, args),
          { name: "TypeError", message: PUT_SHAPE_MESSAGE },
          `put(${args.map((a) => JSON.stringify(a)).join(", ")})`,
        );
      }
      assert.equal((await ctx.storage.list()).size, 0);
    });
  });
});

describe("KV values are structured clones", () => {
  it("round-trips Date, Map, Set, BigInt, RegExp, ArrayBuffer, typed arrays and cycles", async () => {
    await using rt = await startStorageRuntime();
    const nested: Record<string, unknown> = { name: "root", list: [1, "two", null, true] };
    nested.self = nested;
    (nested.list as unknown[]).push(nested);
    const values: Record<string, unknown> = {
      date: new Date(Date.UTC(2026, 1, 24, 12, 0, 0)),
      map: new Map<unknown, unknown>([
        ["a", 1],
        [2, { b: [3] }],
      ]),
      set: new Set(["x", 1, 2n]),
      bigint: 2n ** 80n,
      regexp: /a+b/giu,
      buffer: new Uint8Array([1, 2, 3, 255]).buffer,
      bytes: new Uint8Array([9, 8, 7]),
      floats: new Float64Array([Math.PI, -0, Number.NaN]),
      nested,
      number: -0,
      string: "\u{1F600}\uFFFF\0",
      undefinedInArray: [undefined, 1],
    };
    const stored = await inObject(rt, "clone-types", async (_, ctx) => {
      await ctx.storage.put(values);
      return ctx.storage.get(Object.keys(values));
    });
    for (const [key, value] of Object.entries(values)) {
      assert.deepStrictEqual(stored.get(key), value, key);
    }
    const copy = stored.get("nested") as Record<string, unknown>;
    assert.equal(copy.self, copy, "the cycle is preserved");
    assert.equal((copy.list as unknown[])[4], copy);
    assert.ok(stored.get("buffer") instanceof ArrayBuffer);
    assert.ok(stored.get("floats") instanceof Float64Array);
  });

  it("stores a snapshot: mutating the value after put() does not change what is stored", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "snapshot", async (_, ctx) => {
      const value = { items: [1, 2], when: new Date(0), bytes: new Uint8Array([1]) };
      await ctx.storage.put("k", value);
      value.items.push(3);
      value.when.setTime(1000);
      value.bytes[0] = 99;
      assert.deepStrictEqual(await ctx.storage.get("k"), {
        items: [1, 2],
        when: new Date(0),
        bytes: new Uint8Array([1]),
      });
    });
  });

  it("returns a fresh copy from every get()", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "fresh", async (_, ctx) => {
      await ctx.storage.put("k", { items: [1] });
      const first = (await ctx.storage.get<{ items: number[] }>("k"))!;
      const second = (await ctx.storage.get<{ items: number[] }>("k"))!;
      assert.notEqual(first, second);
      first.items.push(2);
      assert.deepEqual(second, { items: [1] });
      assert.deepEqual(await ctx.storage.get("k"), { items: [1] });
      const listed = (await ctx.storage.list()).get("k");
      assert.notEqual(listed, first);
      assert.deepEqual(listed, { items: [1] });
    });
  });

  it("loses class prototypes, as structured clone does", async () => {
    await using rt = await startStorageRuntime();
    class Point {
      x = 1;
      y = 2;
      norm() {
        return Math.hypot(this.x, this.y);
      }
    }
    const back = await inObject(rt, "proto", async (_, ctx) => {
      await ctx.storage.put("p", new Point());
      return ctx.storage.get("p");
    });
    assert.deepStrictEqual(back, { x: 1, y: 2 });
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
  });
});

describe("KV list()", () => {
  async function listed(options: Record<string, unknown>, keys = MIXED_KEYS): Promise<string[]> {
    await using rt = await startStorageRuntime();
    return await inObject(rt, "list", async (_, ctx) => {
      await ctx.storage.put(Object.fromEntries(keys.map((k) => [k, k])));
      const result = await ctx.storage.list(options);
      for (const [key, value] of result) assert.equal(value, key);
      return [...result.keys()];
    });
  }

  it("lists everything in UTF-8 byte order, not UTF-16 order", async () => {
    const keys = await listed({});
    const utf8 = sortUtf8(MIXED_KEYS);
    assert.deepEqual(keys, utf8);
    assert.notDeepEqual(
      utf8,
      [...MIXED_KEYS].sort(),
      "the fixture keys must tell the orders apart",
    );
    assert.ok(keys.indexOf("\uFFFF") < keys.indexOf("\u{10000}"));
  });

  it("start is inclusive, startAfter exclusive, end exclusive", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "bounds", async (_, ctx) => {
      await ctx.storage.put(Object.fromEntries(MIXED_KEYS.map((k) => [k, k])));
      const keys = async (options: Record<string, unknown>) => [
        ...(await ctx.storage.list(options)).keys(),
      ];
      const all = sortUtf8(MIXED_KEYS);
      const from = (k: string) => all.filter((x) => compareUtf8(x, k) >= 0);
      const before = (k: string) => all.filter((x) => compareUtf8(x, k) < 0);

      assert.deepEqual(await keys({ start: "\uFFFF" }), from("\uFFFF"));
      assert.deepEqual(await keys({ startAfter: "\uFFFF" }), from("\uFFFF").slice(1));
      assert.deepEqual(await keys({ end: "\u{10000}" }), before("\u{10000}"));
      assert.deepEqual(await keys({ start: "b", end: "\u{1F601}" }), [
        "b",
        "z",
        "é",
        "\uE000",
        "\uFFFF",
        "\uFFFFx",
        "\u{10000}",
        "\u{1F600}",
        "\u{1F600}a",
      ]);
      assert.deepEqual(await keys({ startAfter: "\u{1F600}", end: "\u{10FFFF}" }), [
        "\u{1F600}a",
        "\u{1F601}",
      ]);
      // Bounds that are not stored keys work too.
      assert.deepEqual(await keys({ start: "aa", end: "c" }), ["ab", "b"]);
      // An empty or inverted range is an empty Map.
      assert.deepEqual(await keys({ start: "z", end: "z" }), []);
      assert.deepEqual(await keys({ start: "z", end: "a" }), []);
    });
  });

  it("reverse lists descending, keeping start as the lower and end as the upper bound", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "reverse", async (_, ctx) => {
      await ctx.storage.put(Object.fromEntries(MIXED_KEYS.map((k) => [k, k])));
      const keys = async (options: Record<string, unknown>) => [
        ...(await ctx.storage.list(options)).keys(),
      ];
      assert.deepEqual(await keys({ reverse: true }), sortUtf8(MIXED_KEYS).reverse());
      assert.deepEqual(await keys({ reverse: true, start: "b", end: "\uFFFFx" }), [
        "\uFFFF",
        "\uE000",
        "é",
        "z",
        "b",
      ]);
      assert.deepEqual(await keys({ reverse: true, limit: 3 }), [
        "\u{10FFFF}z",
        "\u{10FFFF}",
        "\u{1F601}",
      ]);
      assert.deepEqual(await keys({ reverse: false, limit: 2 }), ["a", "ab"]);
      assert.deepEqual(await keys({ reverse: true, limit: 2, startAfter: "z", end: "\u{10000}" }), [
        "\uFFFFx",
        "\uFFFF",
      ]);
    });
  });

  it("limit counts from the start of the range", async () => {
    assert.deepEqual(await listed({ limit: 3 }), sortUtf8(MIXED_KEYS).slice(0, 3));
    assert.deepEqual(await listed({ limit: 1000 }), sortUtf8(MIXED_KEYS));
    assert.deepEqual(await listed({ start: "\uE000", limit: 2 }), ["\uE000", "\uFFFF"]);
  });

  it("prefix selects the keys that start with it, including after U+FFFF and astral characters", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "prefix", async (_, ctx) => {
      const keys = [
        "a",
        "a\uFFFF",
        "a\uFFFFz",
        "a\uFFFF\u{10FFFF}",
        "a\u{10000}",
        "a\uFFFE",
        "b",
        "x\u{1F600}",
        "x\u{1F600}\u{1F600}",
        "x\u{1F601}",
        "x\u{10FFFF}",
        "x\u{10FFFF}\u{10FFFF}",
        "y",
        "user:1",
        "user:2",
        "user;",
        "user",
      ];
      await ctx.storage.put(Object.fromEntries(keys.map((k) => [k, k])));
      const list = async (options: Record<string, unknown>) => [
        ...(await ctx.storage.list(options)).keys(),
      ];
      assert.deepEqual(await list({ prefix: "user:" }), ["user:1", "user:2"]);
      assert.deepEqual(await list({ prefix: "a\uFFFF" }), [
        "a\uFFFF",
        "a\uFFFFz",
        "a\uFFFF\u{10FFFF}",
      ]);
      assert.deepEqual(await list({ prefix: "x\u{1F600}" }), ["x\u{1F600}", "x\u{1F600}\u{1F600}"]);
      assert.deepEqual(await list({ prefix: "x\u{10FFFF}" }), [
        "x\u{10FFFF}",
        "x\u{10FFFF}\u{10FFFF}",
      ]);
      assert.deepEqual(await list({ prefix: "x\u{10FFFF}", reverse: true }), [
        "x\u{10FFFF}\u{10FFFF}",
        "x\u{10FFFF}",
      ]);
      assert.deepEqual(await list({ prefix: "" }), sortUtf8(keys));
      assert.deepEqual(await list({ prefix: "nothing" }), []);
      // The prefix is intersected with start/startAfter/end.
      assert.deepEqual(await list({ prefix: "user:", start: "user:2" }), ["user:2"]);
      assert.deepEqual(await list({ prefix: "user:", startAfter: "user:1" }), ["user:2"]);
      assert.deepEqual(await list({ prefix: "user:", end: "user:2" }), ["user:1"]);
      assert.deepEqual(await list({ prefix: "user:", start: "a", end: "zz" }), [
        "user:1",
        "user:2",
      ]);
      assert.deepEqual(await list({ prefix: "user:", start: "v" }), []);
      assert.deepEqual(await list({ prefix: "user:", end: "user" }), []);
      assert.deepEqual(await list({ prefix: "a\uFFFF", limit: 2, reverse: true }), [
        "a\uFFFF\u{10FFFF}",
        "a\uFFFFz",
      ]);
    });
  });

  it("rejects start together with startAfter, and a limit that is not positive", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "list-errors", async (_, ctx) => {
      await ctx.storage.put("k", 1);
      await assert.rejects(ctx.storage.list({ start: "a", startAfter: "b" }), {
        name: "TypeError",
        message: "list() cannot be called with both start and startAfter values.",
      });
      for (const limit of [0, -1, -0.5]) {
        await assert.rejects(ctx.storage.list({ limit }), {
          name: "TypeError",
          message: "List limit must be positive.",
        });
      }
      assert.deepEqual([...(await ctx.storage.list())], [["k", 1]]);
    });
  });
});

describe("deleteAll()", () => {
  it("removes KV data and SQL tables together, durably", async () => {
    using store = testStore();
    {
      await using rt = await startStorageRuntime(store.options);
      await inObject(rt, "wipe", async (_, ctx) => {
        await ctx.storage.put({ a: 1, b: 2 });
        ctx.storage.sql.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
        ctx.storage.sql.exec("CREATE INDEX t_x ON t (x)");
        ctx.storage.sql.exec("CREATE VIEW v AS SELECT x FROM t");
        ctx.storage.sql.exec("CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END");
        ctx.storage.sql.exec("CREATE VIRTUAL TABLE docs USING fts5(body)");
        ctx.storage.kv.put("sync", true);
      });
      await inObject(rt, "wipe", async (_, ctx) => {
        assert.equal(await ctx.storage.deleteAll(), undefined);
        assert.deepEqual(await ctx.storage.list(), new Map());
        assert.deepEqual(userTables(ctx.storage.sql), []);
        // The object keeps working afterwards.
        await ctx.storage.put("again", 1);
        ctx.storage.sql.exec("CREATE TABLE t (y)");
      });
    }
    await using rt = await startStorageRuntime(store.options);
    await inObject(rt, "wipe", async (_, ctx) => {
      assert.deepEqual([...(await ctx.storage.list())], [["again", 1]]);
      assert.deepEqual(userTables(ctx.storage.sql), ["t"]);
      assert.deepEqual(
        ctx.storage.sql
          .exec("PRAGMA table_info(t)")
          .toArray()
          .map((c) => c.name),
        ["y"],
      );
    });
  });

  it("deletes the alarm from compatibility date 2026-02-24", async () => {
    const clock = new ManualClock();
    await using rt = await startStorageRuntime({ clock, compatibilityDate: "2026-02-24" });
    await inObject(rt, "alarm-new", async (_, ctx) => {
      await ctx.storage.setAlarm(clock.now() + 60_000);
      await ctx.storage.put("k", 1);
    });
    const alarm = await inObject(rt, "alarm-new", async (_, ctx) => {
      await ctx.storage.deleteAll();
      return ctx.storage.getAlarm();
    });
    assert.equal(alarm, null);
    await clock.advance(120_000);
    assert.equal(
      await inObject(rt, "alarm-new", (_, ctx) => ctx.storage.get("alarm-ran")),
      undefined,
    );
  });

  it("keeps the alarm before compatibility date 2026-02-24", async () => {
    const clock = new ManualClock();
    await using rt = await startStorageRuntime({ clock, compatibilityDate: "2026-02-23" });
    const at = clock.now() + 60_000;
    await inObject(rt, "alarm-old", async (_, ctx) => {
      await ctx.storage.setAlarm(at);
      await ctx.storage.put("k", 1);
    });
    const alarm = await inObject(rt, "alarm-old", async (_, ctx) => {
      await ctx.storage.deleteAll();
      return ctx.storage.getAlarm();
    });
    assert.equal(alarm, at);
    assert.equal(await inObject(rt, "alarm-old", (_, ctx) => ctx.storage.get("k")), undefined);
  });

  it("clears a KV-backed object too", async () => {
    await using rt = await startStorageRuntime();
    const left = await inObject(
      rt,
      "legacy-wipe",
      async (_, ctx) => {
        await ctx.storage.put({ a: 1, b: 2 });
        await ctx.storage.deleteAll();
        return ctx.storage.list();
      },
      "LEGACY",
    );
    assert.equal(left.size, 0);
  });
});

describe("transaction()", () => {
  it("commits the closure's writes and resolves to its result", async () => {
    await using rt = await startStorageRuntime();
    const result = await inObject(rt, "txn-commit", async (_, ctx) => {
      await ctx.storage.put("balance", 10);
      return ctx.storage.transaction(async (txn) => {
        const balance = (await txn.get<number>("balance"))!;
        await txn.put({ balance: balance - 3, log: ["-3"] });
        assert.equal(await txn.get("balance"), 7, "the transaction reads its own writes");
        assert.deepEqual([...(await txn.list()).keys()], ["balance", "log"]);
        assert.equal(await txn.delete("nothing"), false);
        return "done";
      });
    });
    assert.equal(result, "done");
    assert.deepEqual(await rt.env.STORE.getByName("txn-commit").entries(), [
      ["balance", 7],
      ["log", ["-3"]],
    ]);
  });

  it("rolls back when the closure throws, rethrows, and does not reset the object", async () => {
    await using rt = await startStorageRuntime();
    const before = await inObject(rt, "txn-throw", async (instance, ctx) => {
      instance.memo.push("in memory");
      await ctx.storage.put("balance", 10);
      const boom = new Error("insufficient funds");
      const error = await failureOf(() =>
        ctx.storage.transaction(async (txn) => {
          await txn.put("balance", -5);
          await txn.delete("balance");
          await txn.put("audit", "attempted");
          throw boom;
        }),
      );
      assert.equal(error, boom, "the closure's own error propagates");
      // Storage keeps working within the same event.
      assert.equal(await ctx.storage.get("balance"), 10);
      return instance.generation;
    });
    await inObject(rt, "txn-throw", async (instance, ctx) => {
      assert.equal(instance.generation, before, "same instance: no reset");
      assert.deepEqual(instance.memo, ["in memory"]);
      assert.deepEqual([...(await ctx.storage.list())], [["balance", 10]]);
    });
  });

  it("txn.rollback() discards the writes; the closure's result is still returned", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "txn-rollback", async (_, ctx) => {
      await ctx.storage.put("k", "original");
      const result = await ctx.storage.transaction(async (txn) => {
        await txn.put("k", "changed");
        await txn.put("other", 1);
        txn.rollback();
        txn.rollback(); // may be called more than once
        await assert.rejects(txn.get("k"), {
          message: "Cannot get() on rolled back transaction",
        });
        return 42;
      });
      assert.equal(result, 42);
      assert.deepEqual([...(await ctx.storage.list())], [["k", "original"]]);
    });
  });

  it("using txn after the closure is Cloudflare's 'already committed' error", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "txn-escape", async (_, ctx) => {
      let escaped: any;
      await ctx.storage.transaction(async (txn) => {
        escaped = txn;
        await txn.put("k", 1);
      });
      for (const [op, call] of [
        ["put()", () => escaped.put("k", 2)],
        ["get()", () => escaped.get("k")],
        ["delete()", () => escaped.delete("k")],
        ["list()", () => escaped.list()],
      ] as const) {
        const error = await failureOf(call);
        assert.equal(
          error.message,
          `Cannot call ${op} on transaction that has already committed: did you move \`txn\` outside of the closure?`,
        );
      }
      assert.throws(() => escaped.rollback(), {
        message:
          "Cannot call rollback() on transaction that has already committed: did you move `txn` outside of the closure?",
      });
      assert.equal(await ctx.storage.get("k"), 1);
    });
  });

  it("refuses deleteAll() inside a transaction", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "txn-deleteall", async (_, ctx) => {
      await ctx.storage.put("k", 1);
      await ctx.storage.transaction(async (txn) => {
        await assert.rejects(ctx.storage.deleteAll(), {
          message: "Cannot call deleteAll() within a transaction",
        });
        assert.throws(() => (txn as any).deleteAll(), {
          message: "Cannot call deleteAll() within a transaction",
        });
        await txn.put("k2", 2);
      });
      assert.deepEqual([...(await ctx.storage.list()).keys()], ["k", "k2"]);
    });
  });

  it("makes ctx.storage and sql.exec calls inside the closure part of the transaction", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "txn-sql", async (_, ctx) => {
      ctx.storage.sql.exec("CREATE TABLE t (x)");
      await assert.rejects(
        ctx.storage.transaction(async () => {
          await ctx.storage.put("k", 1);
          ctx.storage.sql.exec("INSERT INTO t VALUES (1)");
          throw new Error("undo");
        }),
        { message: "undo" },
      );
      assert.equal(await ctx.storage.get("k"), undefined);
      assert.equal(ctx.storage.sql.exec("SELECT count(*) AS n FROM t").one().n, 0);
    });
  });
});

describe("transactionSync()", () => {
  it("commits on return and returns the closure's value", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "tsync-commit", (_, ctx) => {
      const value = ctx.storage.transactionSync(() => {
        ctx.storage.kv.put("a", 1);
        ctx.storage.sql.exec("CREATE TABLE t (x)");
        ctx.storage.sql.exec("INSERT INTO t VALUES (?)", 5);
        return "ok";
      });
      assert.equal(value, "ok");
    });
    await inObject(rt, "tsync-commit", async (_, ctx) => {
      assert.equal(await ctx.storage.get("a"), 1);
      assert.deepEqual(ctx.storage.sql.exec("SELECT x FROM t").toArray(), [{ x: 5 }]);
    });
  });

  it("rolls back KV and SQL writes together when the closure throws", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "tsync-throw", (instance, ctx) => {
      instance.memo.push("kept");
      ctx.storage.sql.exec("CREATE TABLE t (x)");
      ctx.storage.kv.put("k", "before");
      assert.throws(
        () =>
          ctx.storage.transactionSync(() => {
            ctx.storage.kv.put("k", "during");
            ctx.storage.kv.put("new", 1);
            ctx.storage.sql.exec("INSERT INTO t VALUES (1)");
            ctx.storage.sql.exec("CREATE TABLE u (y)");
            throw new RangeError("nope");
          }),
        { name: "RangeError", message: "nope" },
      );
      assert.equal(ctx.storage.kv.get("k"), "before");
      assert.equal(ctx.storage.kv.get("new"), undefined);
      assert.equal(ctx.storage.sql.exec("SELECT count(*) AS n FROM t").one().n, 0);
      assert.deepEqual(userTables(ctx.storage.sql), ["t"]);
    });
    await inObject(rt, "tsync-throw", async (instance, ctx) => {
      assert.deepEqual(instance.memo, ["kept"]);
      assert.deepEqual([...(await ctx.storage.list())], [["k", "before"]]);
    });
  });

  it("nests: an inner rollback leaves the outer transaction's writes", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "tsync-nest", (_, ctx) => {
      const kv = ctx.storage.kv;
      ctx.storage.transactionSync(() => {
        kv.put("outer-before", 1);
        assert.throws(() =>
          ctx.storage.transactionSync(() => {
            kv.put("inner", 1);
            ctx.storage.transactionSync(() => kv.put("innermost", 1));
            throw new Error("inner fails");
          }),
        );
        const kept = ctx.storage.transactionSync(() => {
          kv.put("inner-ok", 1);
          return "kept";
        });
        assert.equal(kept, "kept");
        kv.put("outer-after", 1);
      });
    });
    const keys = await inObject(rt, "tsync-nest", async (_, ctx) => [
      ...(await ctx.storage.list()).keys(),
    ]);
    assert.deepEqual(keys, ["inner-ok", "outer-after", "outer-before"]);
  });

  it("an outer throw undoes the writes of inner transactions that returned", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "tsync-outer", (_, ctx) => {
      assert.throws(() =>
        ctx.storage.transactionSync(() => {
          ctx.storage.transactionSync(() => ctx.storage.kv.put("inner", 1));
          throw new Error("outer fails");
        }),
      );
      assert.equal(ctx.storage.kv.get("inner"), undefined);
    });
  });
});

describe("sync() and options", () => {
  it("sync() resolves once earlier writes are durable, and at once when nothing is pending", async () => {
    using store = testStore();
    {
      await using rt = await startStorageRuntime(store.options);
      await inObject(rt, "sync", async (_, ctx) => {
        assert.equal(await ctx.storage.sync(), undefined);
        ctx.storage.put("k", "unconfirmed", { allowUnconfirmed: true });
        await ctx.storage.sync();
        ctx.storage.put("k2", 2);
        await ctx.storage.sync();
        await ctx.storage.sync();
      });
    }
    await using rt = await startStorageRuntime(store.options);
    assert.deepEqual(await rt.env.STORE.getByName("sync").entries(), [
      ["k", "unconfirmed"],
      ["k2", 2],
    ]);
  });

  it("accepts allowConcurrency, noCache and allowUnconfirmed on every operation", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "options", async (_, ctx) => {
      const all = { allowConcurrency: true, noCache: true, allowUnconfirmed: true };
      await ctx.storage.put("a", 1, all);
      await ctx.storage.put({ b: 2, c: 3 }, all);
      assert.equal(await ctx.storage.get("a", { allowConcurrency: true, noCache: true }), 1);
      assert.equal((await ctx.storage.get(["a", "b"], { noCache: true })).size, 2);
      assert.deepEqual(
        [...(await ctx.storage.list({ noCache: true, allowConcurrency: true })).keys()],
        ["a", "b", "c"],
      );
      assert.equal(await ctx.storage.delete("a", all), true);
      assert.equal(await ctx.storage.delete(["b", "x"], all), 1);
      await ctx.storage.setAlarm(Date.now() + 60_000, {
        allowConcurrency: true,
        allowUnconfirmed: true,
      });
      assert.equal(typeof (await ctx.storage.getAlarm({ allowConcurrency: true })), "number");
      await ctx.storage.deleteAlarm({ allowUnconfirmed: true });
      await ctx.storage.sync();
    });
    // Writes made with every option set are as visible and lasting as any other.
    assert.deepEqual(await rt.env.STORE.getByName("options").entries(), [["c", 3]]);
  });
});

describe("sync KV API (ctx.storage.kv)", () => {
  it("gets, puts, deletes and lists synchronously, sharing data with the async API", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "sync-kv", async (_, ctx) => {
      const kv = ctx.storage.kv;
      assert.equal(kv.get("missing"), undefined);
      assert.equal(kv.put("a", { n: 1 }), undefined);
      for (const key of MIXED_KEYS) kv.put(key, key);
      assert.deepEqual(kv.get("a"), "a");
      assert.deepEqual(await ctx.storage.get("\u{1F600}"), "\u{1F600}");
      await ctx.storage.put("async", new Map([[1, 2]]));
      assert.deepEqual(kv.get("async"), new Map([[1, 2]]));

      const listed = kv.list();
      assert.equal(typeof listed[Symbol.iterator], "function");
      const entries = [...listed];
      assert.deepEqual(
        entries.map(([k]) => k),
        sortUtf8([...MIXED_KEYS, "async"]),
      );
      assert.deepEqual(
        [...kv.list({ prefix: "\u{1F600}" })].map(([k]) => k),
        ["\u{1F600}", "\u{1F600}a"],
      );
      assert.deepEqual(
        [...kv.list({ start: "\uFFFF", end: "\u{1F600}", reverse: true, limit: 2 })].map(
          ([k]) => k,
        ),
        ["\u{10000}", "\uFFFFx"],
      );
      assert.deepEqual(
        [...kv.list({ startAfter: "\u{10FFFF}" })].map(([k]) => k),
        ["\u{10FFFF}z"],
      );
      assert.throws(() => kv.put("k", undefined), {
        name: "TypeError",
        message: "put() called with undefined value.",
      });
      assert.throws(() => kv.list({ start: "a", startAfter: "b" }), {
        message: "list() cannot be called with both start and startAfter values.",
      });
      assert.throws(() => kv.list({ limit: 0 }), { message: "List limit must be positive." });

      assert.equal(kv.delete("a"), true);
      assert.equal(kv.delete("a"), false);
      assert.equal(await ctx.storage.get("a"), undefined);
    });
  });

  it("writes in one transactionSync with SQL are all-or-nothing", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "kv-sql", (_, ctx) => {
      ctx.storage.sql.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)");
      const placeOrder = (total: number) =>
        ctx.storage.transactionSync(() => {
          const { id } = ctx.storage.sql
            .exec("INSERT INTO orders (total) VALUES (?) RETURNING id", total)
            .one();
          ctx.storage.kv.put(`order:${id}`, { total });
          if (total < 0) throw new RangeError("negative total");
          return id;
        });
      assert.equal(placeOrder(10), 1);
      assert.throws(() => placeOrder(-1), { message: "negative total" });
      assert.equal(placeOrder(5), 2);
    });
    await inObject(rt, "kv-sql", async (_, ctx) => {
      assert.deepEqual(ctx.storage.sql.exec("SELECT id, total FROM orders").toArray(), [
        { id: 1, total: 10 },
        { id: 2, total: 5 },
      ]);
      assert.deepEqual([...(await ctx.storage.list()).keys()], ["order:1", "order:2"]);
    });
  });
});

describe("storage limits", () => {
  it("KV-backed classes: keys up to 2048 UTF-8 bytes, values up to 128 KiB", async () => {
    await using rt = await startStorageRuntime();
    await inObject(
      rt,
      "legacy-limits",
      async (_, ctx) => {
        await ctx.storage.put("k".repeat(2048), 1);
        await ctx.storage.put("v", "x".repeat(128 * 1024));
        for (const key of ["k".repeat(2049), "é".repeat(1025)]) {
          await assert.rejects(ctx.storage.put(key, 1), {
            name: "RangeError",
            message: "Keys cannot be larger than 2048 bytes.",
          });
          await assert.rejects(ctx.storage.get(key), {
            message: "Keys cannot be larger than 2048 bytes.",
          });
        }
        await assert.rejects(ctx.storage.put("v", "x".repeat(128 * 1024 + 64)), {
          name: "RangeError",
          message: "Values cannot be larger than 131072 bytes.",
        });
        await assert.rejects(ctx.storage.put({ ok: 1, big: new Uint8Array(200_000) }), {
          message: "Values cannot be larger than 131072 bytes.",
        });
        // Nothing stored was lost, and the rejected batch wrote nothing.
        assert.equal(await ctx.storage.get("k".repeat(2048)), 1);
        assert.equal(((await ctx.storage.get("v")) as string).length, 128 * 1024);
        assert.equal(await ctx.storage.get("ok"), undefined);
      },
      "LEGACY",
    );
  });

  it("KV-backed classes have no SQL API, sync KV API or transactionSync", async () => {
    await using rt = await startStorageRuntime();
    await inObject(
      rt,
      "legacy-sql",
      (_, ctx) => {
        const notSqlite =
          /^This Durable Object is not backed by SQLite storage, so the SQL API is not available\. SQL can be enabled on a new Durable Object class by using the `new_sqlite_classes` instead of `new_classes`/;
        assert.throws(() => ctx.storage.sql, { message: notSqlite });
        assert.throws(() => ctx.storage.kv, { message: notSqlite });
        assert.throws(() => ctx.storage.transactionSync(() => 1), {
          message: "Durable Object is not backed by SQL.",
        });
      },
      "LEGACY",
    );
  });

  it("SQLite-backed classes: large keys are fine; a key and value over 2 MiB are rejected", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "sqlite-limits", async (_, ctx) => {
      const longKey = "k".repeat(10_000);
      await ctx.storage.put(longKey, "long key");
      await ctx.storage.put("almost", new Uint8Array(2 * 1024 * 1024 - 64));
      await ctx.storage.put("keep", "me");

      const error = await failureOf(() =>
        ctx.storage.put("too-big", new Uint8Array(2 * 1024 * 1024)),
      );
      assert.equal(error.name, "RangeError");
      assert.match(error.message, /SQLITE_TOOBIG/);
      // 2 MiB less room for the row's record header: key and value are one SQLite row.
      assert.match(error.message, /2097136 bytes/);
      assert.match(error.message, /"too-big"/);
      // The limit counts the key too.
      await assert.rejects(ctx.storage.put("x".repeat(1024 * 1024), "y".repeat(1024 * 1024)), {
        name: "RangeError",
      });
      assert.throws(() => ctx.storage.kv.put("too-big", "z".repeat(2 * 1024 * 1024)), {
        name: "RangeError",
      });
      await assert.rejects(ctx.storage.put({ fine: 1, huge: new Uint8Array(3 * 1024 * 1024) }), {
        name: "RangeError",
      });

      assert.equal(await ctx.storage.get(longKey), "long key");
      assert.equal(
        ((await ctx.storage.get("almost")) as Uint8Array).byteLength,
        2 * 1024 * 1024 - 64,
      );
      assert.equal(await ctx.storage.get("keep"), "me");
      assert.equal(await ctx.storage.get("too-big"), undefined);
      assert.equal(await ctx.storage.get("fine"), undefined);
    });
  });
});

function userTables(sql: {
  exec(query: string): { toArray(): Array<Record<string, unknown>> };
}): string[] {
  return sql
    .exec("PRAGMA table_list")
    .toArray()
    .filter(
      (t) =>
        t.schema === "main" &&
        !String(t.name).startsWith("sqlite_") &&
        !String(t.name).startsWith("_cf_"),
    )
    .map((t) => String(t.name))
    .sort();
}
