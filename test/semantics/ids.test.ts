import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { listDurableObjectIds } from "../../src/testing/index.ts";
import { typeError } from "../support/errors.ts";
import { fixture, start } from "../support/rpc-runtime.ts";
import { testStore } from "../support/storage.ts";

const HEX64 = /^[0-9a-f]{64}$/;
const BAD_ID = "Invalid Durable Object ID: must be 64 hex digits";
const FOREIGN_ID = "Durable Object ID is not valid for this namespace.";

async function constructions(id: { toString(): string }): Promise<number> {
  const { constructed } = await fixture();
  return constructed.filter((c) => c.id === id.toString()).length;
}

describe("idFromName", () => {
  it("is deterministic: the same name gives the same id, in this runtime and the next", async () => {
    using store = testStore();
    let first: string;
    {
      await using rt = await start(store.options);
      const a = rt.env.ECHO.idFromName("room-1");
      const b = rt.env.ECHO.idFromName("room-1");
      assert.equal(a.toString(), b.toString());
      assert.ok(a.equals(b));
      assert.notEqual(a, b, "each call returns a new id object");
      first = a.toString();
    }
    await using rt = await start(store.options);
    assert.equal(rt.env.ECHO.idFromName("room-1").toString(), first);
  });

  it("is 64 lowercase hex digits and keeps the name", async () => {
    await using rt = await start();
    for (const name of ["room-1", "", "héllo wörld 🌍", "a".repeat(5000)]) {
      const id = rt.env.ECHO.idFromName(name);
      assert.match(id.toString(), HEX64);
      assert.equal(id.name, name);
    }
  });

  it("gives different ids for different names", async () => {
    await using rt = await start();
    const ids = new Set(
      ["a", "b", "A", "a ", "room-1", "room-2"].map((n) => rt.env.ECHO.idFromName(n).toString()),
    );
    assert.equal(ids.size, 6);
  });

  it("is scoped to the namespace: two classes give different ids for the same name", async () => {
    await using rt = await start();
    const echo = rt.env.ECHO.idFromName("shared-name");
    const other = rt.env.OTHER.idFromName("shared-name");
    assert.notEqual(echo.toString(), other.toString());
    assert.equal(echo.equals(other), false);
  });

  it("reaches the object with ctx.id equal to the id and ctx.id.name set", async () => {
    await using rt = await start();
    const id = rt.env.ECHO.idFromName("named-inside");
    assert.deepEqual(await rt.env.ECHO.get(id).whoami(), {
      name: "named-inside",
      id: id.toString(),
    });
    assert.deepEqual(await rt.env.ECHO.getByName("named-inside").whoami(), {
      name: "named-inside",
      id: id.toString(),
    });
  });
});

describe("newUniqueId", () => {
  it("never repeats, is 64 lowercase hex and has no name", async () => {
    await using rt = await start();
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = rt.env.ECHO.newUniqueId();
      assert.match(id.toString(), HEX64);
      assert.equal(id.name, undefined);
      seen.add(id.toString());
    }
    assert.equal(seen.size, 2000);
  });

  it("is valid in its own namespace only", async () => {
    await using rt = await start();
    const id = rt.env.ECHO.newUniqueId();
    assert.ok(rt.env.ECHO.idFromString(id.toString()).equals(id));
    assert.throws(() => rt.env.OTHER.idFromString(id.toString()), typeError(FOREIGN_ID));
  });

  it("reaches an object whose ctx.id has no name", async () => {
    await using rt = await start();
    const id = rt.env.ECHO.newUniqueId();
    assert.deepEqual(await rt.env.ECHO.get(id).whoami(), { name: undefined, id: id.toString() });
  });
});

describe("idFromString", () => {
  it("round-trips toString() of named and unique ids, without the name", async () => {
    await using rt = await start();
    for (const id of [rt.env.ECHO.idFromName("round-trip"), rt.env.ECHO.newUniqueId()]) {
      const parsed = rt.env.ECHO.idFromString(id.toString());
      assert.equal(parsed.toString(), id.toString());
      assert.ok(parsed.equals(id));
      assert.ok(id.equals(parsed));
      assert.equal(parsed.name, undefined);
    }
  });

  it("parses ids across runtimes: a stored id string still addresses the same object", async () => {
    using store = testStore();
    let hex: string;
    {
      await using rt1 = await start(store.options);
      hex = rt1.env.ECHO.newUniqueId().toString();
    }
    await using rt2 = await start(store.options);
    assert.equal(rt2.env.ECHO.idFromString(hex).toString(), hex);
  });

  it("rejects strings that are not 64 hex digits with Cloudflare's text", async () => {
    await using rt = await start();
    const good = rt.env.ECHO.idFromName("x").toString();
    const bad = [
      "",
      "abc",
      good.slice(0, 63),
      `${good}0`,
      `${good.slice(0, 63)}g`,
      `${good.slice(0, 62)}-1`,
      ` ${good.slice(1)}`,
      "z".repeat(64),
    ];
    for (const value of bad) {
      assert.throws(
        () => rt.env.ECHO.idFromString(value),
        typeError(BAD_ID),
        JSON.stringify(value),
      );
    }
  });

  it("rejects non-string arguments with the same text", async () => {
    await using rt = await start();
    for (const value of [123, undefined, null, {}, ["a"], rt.env.ECHO.idFromName("x")]) {
      assert.throws(
        () => rt.env.ECHO.idFromString(value as never),
        typeError(BAD_ID),
        String(value),
      );
    }
  });

  it("rejects a well-formed id of another namespace, or one with a forged MAC", async () => {
    await using rt = await start();
    const other = rt.env.OTHER.idFromName("x").toString();
    assert.throws(() => rt.env.ECHO.idFromString(other), typeError(FOREIGN_ID));
    const mine = rt.env.ECHO.idFromName("x").toString();
    const flipped = mine.slice(0, 63) + (mine[63] === "0" ? "1" : "0");
    assert.throws(() => rt.env.ECHO.idFromString(flipped), typeError(FOREIGN_ID));
    // "Not all 64-digit hex numbers are valid IDs."
    assert.throws(() => rt.env.ECHO.idFromString("0".repeat(64)), typeError(FOREIGN_ID));
  });
});

describe("equals", () => {
  it("compares the object an id names, not the id object or its name", async () => {
    await using rt = await start();
    const named = rt.env.ECHO.idFromName("eq");
    assert.ok(named.equals(rt.env.ECHO.idFromName("eq")));
    assert.ok(named.equals(rt.env.ECHO.idFromString(named.toString())));
    assert.equal(named.equals(rt.env.ECHO.idFromName("eq2")), false);
    assert.equal(named.equals(rt.env.OTHER.idFromName("eq")), false);
    assert.equal(named.equals(rt.env.ECHO.newUniqueId()), false);
    assert.equal(named.equals(named.toString() as never), false, "a string is not an id");
  });
});

describe("get and getByName", () => {
  it("gives stubs whose id and name mirror the id", async () => {
    await using rt = await start();
    const id = rt.env.ECHO.idFromName("mirror");
    const byId = rt.env.ECHO.get(id);
    assert.ok(byId.id.equals(id));
    assert.equal(byId.name, "mirror");
    const byName = rt.env.ECHO.getByName("mirror");
    assert.ok(byName.id.equals(id));
    assert.equal(byName.id.name, "mirror");
    assert.equal(byName.name, "mirror");

    const unique = rt.env.ECHO.get(rt.env.ECHO.newUniqueId());
    assert.match(unique.id.toString(), HEX64);
    assert.equal(unique.name, undefined);
    const parsed = rt.env.ECHO.get(rt.env.ECHO.idFromString(id.toString()));
    assert.equal(parsed.name, undefined);
    assert.ok(parsed.id.equals(id));
  });

  it("shows id and name as the stub's own read-only properties, as workerd does", async () => {
    await using rt = await start();
    const id = rt.env.ECHO.idFromName("own-keys");
    const stub = rt.env.ECHO.get(id);
    assert.deepEqual(Object.keys(stub), ["id", "name"]);
    assert.deepEqual({ ...stub }, { id, name: "own-keys" });
    assert.equal(stub.id, id);
    assert.ok("id" in stub && "name" in stub && "fetch" in stub);
    assert.equal("add" in stub, false, "RPC methods are not own properties");
    assert.deepEqual(Object.keys(rt.env.ECHO.get(rt.env.ECHO.newUniqueId())), ["id", "name"]);
    // Two stubs of one object are deep-equal, however they were made.
    assert.deepStrictEqual(stub, rt.env.ECHO.getByName("own-keys"));
    assert.deepStrictEqual(stub, rt.env.ECHO.get(id, { locationHint: "weur" }));
    assert.throws(() => {
      stub.id = rt.env.ECHO.newUniqueId();
    }, TypeError);
    // The app may add its own members; RPC keeps working beside them.
    stub.local = () => "called locally";
    assert.deepEqual(Object.keys(stub), ["id", "name", "local"]);
    assert.equal(stub.local(), "called locally");
    assert.equal(await stub.add(2, 3), 5);
  });

  it("stubs from get(idFromString) and getByName reach the same object", async () => {
    await using rt = await start();
    await rt.env.ECHO.getByName("same-object").save("k", "v");
    const hex = rt.env.ECHO.idFromName("same-object").toString();
    assert.equal(await rt.env.ECHO.get(rt.env.ECHO.idFromString(hex)).load("k"), "v");
  });

  it("rejects an id of another namespace", async () => {
    await using rt = await start();
    assert.throws(() => rt.env.ECHO.get(rt.env.OTHER.idFromName("x")), typeError(FOREIGN_ID));
    assert.throws(() => rt.env.OTHER.get(rt.env.ECHO.newUniqueId()), typeError(FOREIGN_ID));
  });

  it("rejects values that are not ids", async () => {
    await using rt = await start();
    const hex = rt.env.ECHO.idFromName("x").toString();
    for (const value of [hex, undefined, { toString: () => hex }]) {
      assert.throws(
        () => rt.env.ECHO.get(value as never),
        (error: unknown) => error instanceof TypeError && /DurableObjectId/.test(error.message),
      );
    }
  });

  it("does not create the object: no constructor run, nothing listed", async () => {
    await using rt = await start();
    const named = rt.env.ECHO.getByName("lazy-named");
    const unique = rt.env.ECHO.get(rt.env.ECHO.newUniqueId());
    const parsed = rt.env.ECHO.get(
      rt.env.ECHO.idFromString(rt.env.ECHO.idFromName("lazy-parsed").toString()),
    );
    for (const stub of [named, unique, parsed]) {
      assert.equal(await constructions(stub.id), 0);
    }
    assert.deepEqual(await listDurableObjectIds(rt.env.ECHO), []);

    await named.save("k", 1);
    assert.equal(await constructions(named.id), 1);
    assert.equal(await constructions(unique.id), 0);
    const listed = await listDurableObjectIds(rt.env.ECHO);
    assert.equal(listed.length, 1);
    assert.ok(listed[0]!.equals(named.id));
    assert.deepEqual(await listDurableObjectIds(rt.env.OTHER), []);
  });
});
