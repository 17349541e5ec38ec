// Jurisdictions (reference §1.1, Cloudflare's data-location docs): `ns.jurisdiction(j)` is a
// subnamespace whose ids encode `j`; the same name gives another id there; a subnamespace
// refuses ids of another jurisdiction while the namespace itself takes any of its ids. Stead
// runs every jurisdiction's objects where it runs; the ids keep them apart.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runInDurableObject } from "../../src/testing/index.ts";
import { typeError } from "../support/errors.ts";
import { start } from "../support/rpc-runtime.ts";
import { testStore } from "../support/storage.ts";

const HEX64 = /^[0-9a-f]{64}$/;
const OTHER_JURISDICTION =
  "get called on jurisdictional subnamespace with an ID from a different jurisdiction";

describe("jurisdiction()", () => {
  it("gives another id for the same name, encoding the jurisdiction in 64 hex digits", async () => {
    await using rt = await start();
    const plain = rt.env.ECHO.idFromName("room");
    const eu = rt.env.ECHO.jurisdiction("eu").idFromName("room");
    const fedramp = rt.env.ECHO.jurisdiction("fedramp").idFromName("room");
    assert.match(eu.toString(), HEX64);
    assert.equal(eu.name, "room");
    assert.equal(eu.jurisdiction, "eu");
    assert.equal(plain.jurisdiction, undefined);
    assert.equal(eu.equals(plain), false);
    assert.equal(eu.equals(fedramp), false);
    assert.ok(eu.equals(rt.env.ECHO.jurisdiction("eu").idFromName("room")));
    // The namespace reads the jurisdiction back from the string.
    assert.equal(rt.env.ECHO.idFromString(eu.toString()).jurisdiction, "eu");
    assert.equal(rt.env.ECHO.idFromString(plain.toString()).jurisdiction, undefined);
  });

  it("keeps objects of different jurisdictions apart, across runtimes", async () => {
    using store = testStore();
    let euHex: string;
    {
      await using rt = await start(store.options);
      await rt.env.ECHO.getByName("shared").save("where", "global");
      await rt.env.ECHO.jurisdiction("eu").getByName("shared").save("where", "eu");
      euHex = rt.env.ECHO.jurisdiction("eu").idFromName("shared").toString();
    }
    await using rt = await start(store.options);
    assert.equal(await rt.env.ECHO.getByName("shared").load("where"), "global");
    assert.equal(await rt.env.ECHO.jurisdiction("eu").getByName("shared").load("where"), "eu");
    // A stored id string reaches the same object through either namespace.
    const id = rt.env.ECHO.idFromString(euHex);
    assert.equal(await rt.env.ECHO.get(id).load("where"), "eu");
    assert.equal(await rt.env.ECHO.jurisdiction("eu").get(id).load("where"), "eu");
  });

  it("shows the jurisdiction as ctx.id.jurisdiction inside the object", async () => {
    await using rt = await start();
    const stub = rt.env.ECHO.jurisdiction("fedramp-high").getByName("inside");
    const seen = await runInDurableObject(stub, (_, ctx) => ({
      jurisdiction: ctx.id.jurisdiction,
      name: ctx.id.name,
    }));
    assert.deepEqual(seen, { jurisdiction: "fedramp-high", name: "inside" });
    const plain = await runInDurableObject(rt.env.ECHO.getByName("inside"), (_, ctx) =>
      Object.hasOwn(ctx.id, "jurisdiction") ? ctx.id.jurisdiction : "missing",
    );
    assert.equal(plain, undefined);
  });

  it("null and undefined mean the namespace itself", async () => {
    await using rt = await start();
    for (const none of [null, undefined]) {
      const ns = rt.env.ECHO.jurisdiction(none);
      assert.equal(ns.idFromName("n").toString(), rt.env.ECHO.idFromName("n").toString());
      assert.equal(rt.env.ECHO.newUniqueId({ jurisdiction: none }).jurisdiction, undefined);
    }
  });

  it("refuses unknown jurisdictions, naming the valid ones", async () => {
    await using rt = await start();
    for (const bad of ["EU", "mars", "", 42, {}]) {
      const message =
        /^Unknown Durable Object jurisdiction .*: use one of "eu", "fedramp", "fedramp-high", "us"\.$/;
      assert.throws(() => rt.env.ECHO.jurisdiction(bad), typeError(message));
      assert.throws(() => rt.env.ECHO.newUniqueId({ jurisdiction: bad }), typeError(message));
    }
  });
});

describe("ids of another jurisdiction", () => {
  it("the namespace takes an id of any jurisdiction", async () => {
    await using rt = await start();
    const eu = rt.env.ECHO.newUniqueId({ jurisdiction: "eu" });
    assert.equal(eu.jurisdiction, "eu");
    assert.equal(eu.name, undefined);
    await rt.env.ECHO.get(eu).save("k", 1);
    assert.equal(await rt.env.ECHO.jurisdiction("eu").get(eu).load("k"), 1);
    assert.equal(rt.env.ECHO.jurisdiction("eu").newUniqueId().jurisdiction, "eu");
  });

  it("a subnamespace refuses ids of another jurisdiction or of none, with Cloudflare's text", async () => {
    await using rt = await start();
    const eu = rt.env.ECHO.jurisdiction("eu");
    for (const id of [
      rt.env.ECHO.idFromName("x"),
      rt.env.ECHO.newUniqueId(),
      rt.env.ECHO.jurisdiction("us").idFromName("x"),
      rt.env.ECHO.newUniqueId({ jurisdiction: "fedramp" }),
    ]) {
      assert.throws(() => eu.get(id), typeError(OTHER_JURISDICTION));
      assert.throws(() => eu.idFromString(id.toString()), typeError(/different jurisdiction/));
    }
    assert.throws(
      () => eu.newUniqueId({ jurisdiction: "us" }),
      typeError(/^newUniqueId called on the "eu" jurisdictional subnamespace/),
    );
  });

  it("an id of another namespace stays invalid in every jurisdiction", async () => {
    await using rt = await start();
    const foreign = rt.env.OTHER.jurisdiction("eu").idFromName("x");
    assert.throws(
      () => rt.env.ECHO.idFromString(foreign.toString()),
      typeError("Durable Object ID is not valid for this namespace."),
    );
    assert.throws(
      () => rt.env.ECHO.jurisdiction("eu").get(foreign),
      typeError("Durable Object ID is not valid for this namespace."),
    );
  });
});
