import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NameCache } from "./name-cache.ts";

describe("NameCache", () => {
  it("evicts least recently used names to stay within its bytes, per scope", () => {
    const cache = new NameCache(64 * 1024);
    const a = {};
    const b = {};
    for (let i = 0; i < 1000; i++) cache.set(a, `name-${i}`, `hex-${i}`);
    assert.ok(cache.bytes <= 64 * 1024);
    assert.equal(cache.get(a, "name-0"), undefined);
    assert.equal(cache.get(a, "name-999"), "hex-999");
    assert.equal(cache.get(b, "name-999"), undefined);
    cache.set(b, "name-999", "other");
    assert.equal(cache.get(a, "name-999"), "hex-999");
    assert.equal(cache.get(b, "name-999"), "other");
  });

  it("does not cache a name bigger than a 64th of its budget, and 0 turns it off", () => {
    const scope = {};
    const cache = new NameCache(64 * 1024);
    cache.set(scope, "x".repeat(1024), "hex");
    assert.equal(cache.get(scope, "x".repeat(1024)), undefined);
    const off = new NameCache(0);
    off.set(scope, "a", "hex");
    assert.equal(off.get(scope, "a"), undefined);
    assert.equal(off.bytes, 0);
  });
});
