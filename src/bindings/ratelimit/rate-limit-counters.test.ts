// The counters' memory bound: only the current window of each namespace is kept.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RateLimitCounters } from "./rate-limit-counters.ts";

describe("RateLimitCounters", () => {
  it("keeps only the keys of current windows: ended windows go on the next call", () => {
    const counters = new RateLimitCounters();
    const start = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 1000; i++) counters.take("1", 10, `key-${i}`, 5, start);
    for (let i = 0; i < 10; i++) counters.take("2", 60, `key-${i}`, 5, start);
    assert.equal(counters.size, 1010);
    // 10 s on: namespace 1's window ended (dropped), namespace 2's goes on.
    assert.equal(counters.take("2", 60, "key-0", 5, start + 10_000), true);
    assert.equal(counters.size, 10);
    assert.equal(counters.take("1", 10, "key-0", 1, start + 10_000), true);
    assert.equal(counters.take("1", 10, "key-0", 1, start + 10_000), false);
    assert.equal(counters.size, 11);
    assert.equal(counters.take("3", 10, "x", 1, start + 60_000), true);
    assert.equal(counters.size, 1);
  });
});
