// Bad input to the storage and SQL APIs: every mistake gets a clear (where Cloudflare defines
// it, the exact) error, the object is not reset, and nothing already stored is lost.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DurableObjectState } from "../../src/index.ts";
import { ManualClock, type Runtime } from "../../src/index.ts";
import { failureOf } from "../support/errors.ts";
import { inObject, startStorageRuntime } from "../support/storage-harness.ts";

const SEED = { a: 1, "nested/b": { list: [1, 2], when: new Date(0) }, "\u{1F600}": "emoji" };

/** Stores SEED, a SQL table and an alarm, and returns the instance's construction number. */
async function seed(rt: Runtime, name: string, clock: ManualClock): Promise<number> {
  return inObject(rt, name, async (instance, ctx) => {
    await ctx.storage.put(SEED);
    ctx.storage.sql.exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('one'), ('two')",
    );
    await ctx.storage.setAlarm(clock.now() + 60_000);
    return instance.generation;
  });
}

/** Asserts that SEED, the table and the alarm are unchanged and the instance was not reset. */
async function assertIntact(
  rt: Runtime,
  name: string,
  clock: ManualClock,
  generation: number,
): Promise<void> {
  await inObject(rt, name, async (instance, ctx) => {
    assert.equal(instance.generation, generation, "the object was not reset");
    assert.deepEqual(Object.fromEntries(await ctx.storage.list()), SEED);
    assert.deepEqual(ctx.storage.sql.exec("SELECT id, v FROM t ORDER BY id").toArray(), [
      { id: 1, v: "one" },
      { id: 2, v: "two" },
    ]);
    assert.equal(await ctx.storage.getAlarm(), clock.now() + 60_000);
  });
}

/** Runs `check` against a seeded object, then verifies the object is intact. */
async function afterBadInput(
  check: (ctx: DurableObjectState, rt: Runtime) => Promise<void> | void,
): Promise<void> {
  const clock = new ManualClock();
  await using rt = await startStorageRuntime({ clock });
  const generation = await seed(rt, "victim", clock);
  await inObject(rt, "victim", (_, ctx) => check(ctx, rt));
  await assertIntact(rt, "victim", clock, generation);
}

const NOT_A_KEY = [1, null, undefined, {}, Symbol("k"), 1n, true] as const;

describe("bad input to the KV API", () => {
  it("non-string keys are a TypeError naming the type", async () => {
    await afterBadInput(async (ctx) => {
      const storage = ctx.storage as any;
      for (const key of NOT_A_KEY) {
        const label = typeof key === "symbol" ? "symbol" : String(key);
        const described = key === null ? "null" : typeof key;
        const expected = {
          name: "TypeError",
          message: new RegExp(`^Storage keys must be strings, got ${described}\\.`),
        };
        await assert.rejects(storage.get(key), expected, `get(${label})`);
        await assert.rejects(storage.get(["a", key]), expected, `get([a, ${label}])`);
        await assert.rejects(storage.delete(key), expected, `delete(${label})`);
        await assert.rejects(storage.delete(["a", key]), expected, `delete([a, ${label}])`);
        assert.throws(() => ctx.storage.kv.get(key as any), expected, `kv.get(${label})`);
        assert.throws(() => ctx.storage.kv.put(key as any, 1), expected, `kv.put(${label})`);
        assert.throws(() => ctx.storage.kv.delete(key as any), expected, `kv.delete(${label})`);
      }
      await assert.rejects(storage.list({ start: 5 }), {
        name: "TypeError",
        message: /got number/,
      });
      await assert.rejects(storage.list({ prefix: {} }), {
        name: "TypeError",
        message: /got object/,
      });
    });
  });

  it("put() with a non-string, non-object first argument is the documented TypeError", async () => {
    const message =
      "put() may only be called with a single key-value pair and optional options as put(key, value, options) or with multiple key-value pairs and optional options as put(entries, options)";
    await afterBadInput(async (ctx) => {
      const put = ctx.storage.put.bind(ctx.storage) as (...args: unknown[]) => Promise<void>;
      for (const args of [
        [1, "v"],
        [null, "v"],
        [undefined, "v"],
        [["a", "b"]],
        [Symbol("k"), 1],
        [{ a: 2 }, "not options"],
        [{ a: 2 }, 5],
      ]) {
        await assert.rejects(put(...args), { name: "TypeError", message });
      }
    });
  });

  it("options that are not an object are a TypeError naming the method and parameter", async () => {
    await afterBadInput(async (ctx) => {
      const storage = ctx.storage as any;
      await assert.rejects(storage.get("a", "fast"), {
        name: "TypeError",
        message:
          "Failed to execute 'get' on 'DurableObjectStorage': parameter 2 is not of type 'DurableObjectGetOptions'.",
      });
      await assert.rejects(storage.put("a", 2, true), {
        name: "TypeError",
        message:
          "Failed to execute 'put' on 'DurableObjectStorage': parameter 3 is not of type 'DurableObjectPutOptions'.",
      });
      await assert.rejects(storage.delete("a", 1), {
        name: "TypeError",
        message:
          "Failed to execute 'delete' on 'DurableObjectStorage': parameter 2 is not of type 'DurableObjectPutOptions'.",
      });
      await assert.rejects(storage.deleteAll("everything"), {
        name: "TypeError",
        message:
          "Failed to execute 'deleteAll' on 'DurableObjectStorage': parameter 1 is not of type 'DurableObjectPutOptions'.",
      });
      await assert.rejects(storage.setAlarm(Date.now() + 1000, "soon"), {
        name: "TypeError",
        message:
          "Failed to execute 'setAlarm' on 'DurableObjectStorage': parameter 2 is not of type 'DurableObjectSetAlarmOptions'.",
      });
      for (const options of ["a", 5, null]) {
        await assert.rejects(storage.list(options), {
          name: "TypeError",
          message: "list() options must be an object.",
        });
      }
      await assert.rejects(storage.list({ limit: "10" }), {
        name: "TypeError",
        message: "list() limit must be a number, got string.",
      });
      await assert.rejects(storage.list({ limit: Number.NaN }), { name: "TypeError" });
    });
  });

  it("values that cannot be cloned are a DataCloneError and a batch containing one writes nothing", async () => {
    await afterBadInput(async (ctx) => {
      // workerd's texts: V8's own for what V8 refuses.
      const refused: Array<[unknown, string]> = [
        [() => 1, "() => 1 could not be cloned."],
        [Symbol("s"), "Symbol(s) could not be cloned."],
        [new WeakMap(), "#<WeakMap> could not be cloned."],
        [{ fn() {} }, "fn() {} could not be cloned."],
        [[Promise.resolve()], "#<Promise> could not be cloned."],
      ];
      for (const [value, message] of refused) {
        const error = await failureOf(() => ctx.storage.put("a", value));
        assert.ok(error instanceof DOMException, String(error));
        assert.equal(error.name, "DataCloneError");
        assert.equal(error.message, message);
      }
      await assert.rejects(ctx.storage.put({ a: 2, fresh: 1, bad: () => 0 }), {
        name: "DataCloneError",
        message: "() => 0 could not be cloned.",
      });
      assert.throws(() => ctx.storage.kv.put("a", () => 1), { name: "DataCloneError" });
      assert.equal(await ctx.storage.get("fresh"), undefined);
    });
  });

  it("batches over 128 keys and undefined values are rejected without writing", async () => {
    await afterBadInput(async (ctx) => {
      const many = Array.from({ length: 200 }, (_, i) => `k${i}`);
      await assert.rejects(ctx.storage.get(many), {
        name: "RangeError",
        message: "Maximum number of keys is 128.",
      });
      await assert.rejects(ctx.storage.delete(["a", ...many]), {
        name: "RangeError",
        message: "Maximum number of keys is 128.",
      });
      await assert.rejects(
        ctx.storage.put({ a: 5, ...Object.fromEntries(many.map((k) => [k, 1])) }),
        {
          name: "RangeError",
          message: "Maximum number of pairs is 128.",
        },
      );
      await assert.rejects(ctx.storage.put("a", undefined), {
        name: "TypeError",
        message: "put() called with undefined value.",
      });
      assert.equal((await ctx.storage.get(many.slice(0, 128))).size, 0);
    });
  });

  it("a value over the SQLite backend's 2 MiB limit is rejected and the old value kept", async () => {
    await afterBadInput(async (ctx) => {
      const error = await failureOf(() => ctx.storage.put("a", "x".repeat(2 * 1024 * 1024 + 1)));
      assert.equal(error.name, "RangeError");
      assert.match(error.message, /at most 2097136 bytes.*split the value across several keys/);
      await assert.rejects(ctx.storage.put({ a: 7, huge: new Uint8Array(2 * 1024 * 1024) }), {
        name: "RangeError",
      });
      assert.throws(() => ctx.storage.kv.put("a", new Uint8Array(2 * 1024 * 1024)), {
        name: "RangeError",
      });
      assert.equal(await ctx.storage.get("huge"), undefined);
    });
  });

  it("keys and values over the KV backend's limits are rejected and stored data kept", async () => {
    await using rt = await startStorageRuntime();
    await inObject(
      rt,
      "legacy-victim",
      async (_, ctx) => {
        await ctx.storage.put(SEED);
        await assert.rejects(ctx.storage.put("🙂".repeat(513), 1), {
          name: "RangeError",
          message: "Keys cannot be larger than 2048 bytes.",
        });
        await assert.rejects(ctx.storage.delete(["a", "k".repeat(3000)]), {
          message: "Keys cannot be larger than 2048 bytes.",
        });
        await assert.rejects(ctx.storage.list({ prefix: "p".repeat(2049) }), {
          message: "Keys cannot be larger than 2048 bytes.",
        });
        await assert.rejects(ctx.storage.put({ a: 2, big: "v".repeat(200_000) }), {
          name: "RangeError",
          message: "Values cannot be larger than 131072 bytes.",
        });
      },
      "LEGACY",
    );
    const kept = await inObject(
      rt,
      "legacy-victim",
      async (_, ctx) => Object.fromEntries(await ctx.storage.list()),
      "LEGACY",
    );
    assert.deepEqual(kept, SEED);
  });
});

describe("bad input to alarms", () => {
  it("setAlarm() with a string, NaN, an invalid Date, 0 or a negative time is a TypeError", async () => {
    await afterBadInput(async (ctx) => {
      const setAlarm = ctx.storage.setAlarm.bind(ctx.storage) as (t: unknown) => Promise<void>;
      for (const time of [
        "2026-01-01",
        "1000",
        Number.NaN,
        Number.POSITIVE_INFINITY,
        new Date(Number.NaN),
        null,
        undefined,
        {},
      ]) {
        await assert.rejects(
          setAlarm(time),
          {
            name: "TypeError",
            message:
              /^setAlarm\(\) requires a Date or a number of milliseconds since the epoch, got /,
          },
          String(time),
        );
      }
      for (const time of [0, -1, new Date(0), new Date(-5000)]) {
        await assert.rejects(
          setAlarm(time),
          {
            name: "TypeError",
            message: "setAlarm() cannot be called with an alarm time <= 0",
          },
          String(time),
        );
      }
    });
  });
});

describe("bad input to SQL", () => {
  it("exec() with a non-string query is a TypeError", async () => {
    await afterBadInput((ctx) => {
      const exec = ctx.storage.sql.exec.bind(ctx.storage.sql) as (
        q: unknown,
        ...b: unknown[]
      ) => unknown;
      for (const query of [42, null, undefined, { sql: "SELECT 1" }, ["SELECT 1"]]) {
        assert.throws(() => exec(query), {
          name: "TypeError",
          message: `sql.exec() expects the query as a string, got ${typeof query}.`,
        });
      }
    });
  });

  it("a binding of an unsupported type is a TypeError naming its position", async () => {
    await afterBadInput((ctx) => {
      const sql = ctx.storage.sql;
      for (const [binding, type] of [
        [{ v: 1 }, "object"],
        [[1, 2], "object"],
        [new Date(), "object"],
        [() => 1, "function"],
        [Symbol("s"), "symbol"],
      ] as const) {
        assert.throws(() => sql.exec("INSERT INTO t (v) VALUES (?)", binding), {
          name: "TypeError",
          message: `Unsupported type for SQL binding 1: ${type}. Bind a number, string, null or ArrayBuffer (serialize objects with JSON.stringify).`,
        });
      }
      assert.throws(() => sql.exec("UPDATE t SET v = ? WHERE id = ?", "x", { id: 1 }), {
        message: /^Unsupported type for SQL binding 2: object\./,
      });
    });
  });

  it("too many bindings and too long SQL are rejected", async () => {
    await afterBadInput((ctx) => {
      const sql = ctx.storage.sql;
      // Cloudflare's texts (workerd 2026-11-17).
      assert.throws(() => sql.exec("INSERT INTO t (v) VALUES (?)", ...Array(101).fill("x")), {
        message: "Wrong number of parameter bindings for SQL query.",
      });
      const long = `SELECT 1 -- ${"x".repeat(100_000)}`;
      assert.throws(() => sql.exec(long), { message: "statement too long: SQLITE_TOOBIG" });
    });
  });

  it("forbidden SQL is refused and stored data is kept", async () => {
    await afterBadInput((ctx) => {
      const sql = ctx.storage.sql;
      for (const query of [
        "BEGIN",
        "COMMIT",
        "SAVEPOINT x",
        "ATTACH ':memory:' AS x",
        "DROP TABLE _cf_KV",
        "DELETE FROM _cf_METADATA",
        "UPDATE _cf_KV SET value = x'00'",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA writable_schema = ON",
        "CREATE TEMP TABLE x (y)",
      ]) {
        assert.throws(() => sql.exec(query).toArray(), { message: /: SQLITE_AUTH$/ }, query);
      }
      // A denied statement inside a transactionSync rolls back what the closure did.
      assert.throws(() =>
        ctx.storage.transactionSync(() => {
          sql.exec("INSERT INTO t (v) VALUES ('three')");
          sql.exec("DELETE FROM _cf_KV");
        }),
      );
    });
  });

  it("SQL errors inside a transactionSync roll back its KV and SQL writes", async () => {
    await afterBadInput((ctx) => {
      assert.throws(
        () =>
          ctx.storage.transactionSync(() => {
            ctx.storage.kv.put("a", "overwritten");
            ctx.storage.kv.delete("\u{1F600}");
            ctx.storage.sql.exec("UPDATE t SET v = 'changed'");
            ctx.storage.sql.exec("INSERT INTO t (id, v) VALUES (1, 'duplicate')");
          }),
        { message: /UNIQUE constraint failed: t\.id/ },
      );
    });
  });

  it("transactionSync() with an async closure is a TypeError and its writes are undone", async () => {
    await afterBadInput((ctx) => {
      assert.throws(
        () =>
          ctx.storage.transactionSync((async () => {
            ctx.storage.kv.put("a", "async write");
          }) as () => unknown),
        {
          name: "TypeError",
          message: "transactionSync() closure must be synchronous; it returned a Promise.",
        },
      );
    });
  });
});

describe("bad ids", () => {
  it("malformed ids, ids of another namespace and non-ids are TypeErrors", async () => {
    const clock = new ManualClock();
    await using rt = await startStorageRuntime({ clock });
    const generation = await seed(rt, "victim", clock);
    const ns = rt.env.STORE;
    for (const bad of [
      "",
      "xyz",
      "a".repeat(63),
      "g".repeat(64),
      "A".repeat(64),
      "a".repeat(65),
      42,
      null,
    ]) {
      assert.throws(
        () => ns.idFromString(bad),
        {
          name: "TypeError",
          message: "Invalid Durable Object ID: must be 64 hex digits",
        },
        String(bad),
      );
    }
    const foreign = rt.env.LEGACY.idFromName("victim");
    assert.throws(() => ns.idFromString(foreign.toString()), {
      name: "TypeError",
      message: "Durable Object ID is not valid for this namespace.",
    });
    assert.throws(() => ns.get(foreign), {
      name: "TypeError",
      message: "Durable Object ID is not valid for this namespace.",
    });
    for (const notAnId of [
      "victim",
      ns.idFromName("victim").toString(),
      { toString: () => "x" },
      undefined,
    ]) {
      assert.throws(() => ns.get(notAnId), {
        name: "TypeError",
        message: /^get\(\) requires a DurableObjectId/,
      });
    }
    assert.throws(() => ns.idFromName(7), {
      name: "TypeError",
      message: "idFromName() requires a string name, got number.",
    });
    // The round trip of a good id still reaches the same data.
    const again = ns.get(ns.idFromString(ns.idFromName("victim").toString()));
    assert.equal(await again.read("a"), 1);
    await assertIntact(rt, "victim", clock, generation);
  });
});
