import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StatementCache } from "./statement-cache.ts";

describe("StatementCache", () => {
  it("drops the least recently used entries past its byte budget, and says which", () => {
    const dropped: string[] = [];
    const cache = new StatementCache<string>(100, (value) => dropped.push(value));
    cache.set("a", "A", 40);
    cache.set("b", "B", 40);
    assert.equal(cache.get("a"), "A"); // a is now the most recently used
    cache.set("c", "C", 40);
    assert.deepEqual(dropped, ["B"]);
    assert.equal(cache.get("b"), undefined);
    assert.equal(cache.bytes, 80);
  });

  it("keeps the newest entry even when it alone is over the budget", () => {
    const dropped: string[] = [];
    const cache = new StatementCache<string>(10, (value) => dropped.push(value));
    cache.set("a", "A", 5);
    cache.set("huge", "H", 50);
    assert.deepEqual(dropped, ["A"]);
    assert.equal(cache.get("huge"), "H");
    assert.equal(cache.size, 1);
  });
});
