import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { copyTemplate, TEMPLATES } from "../support/apps.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const RATE_LIMITER = join(TEMPLATES, "rate-limiter");
const HOST = ["--host", "127.0.0.1"];

interface Checked {
  status: number;
  retryAfter: string | null;
  remaining: string | null;
  body: any;
}

async function check(base: string, key: string, method = "POST"): Promise<Checked> {
  const response = await fetch(`${base}/check/${encodeURIComponent(key)}`, { method });
  return {
    status: response.status,
    retryAfter: response.headers.get("Retry-After"),
    remaining: response.headers.get("RateLimit-Remaining"),
    body: await response.json(),
  };
}

describe("templates/rate-limiter under stead start", () => {
  it("admits exactly RATE_LIMIT of a burst per key, and remembers a drained key across a SIGKILL", async () => {
    using store = testStore();
    const args = [RATE_LIMITER, ...HOST];
    {
      await using stead = await startStead("start", args, { store });
      const burst = await Promise.all(Array.from({ length: 30 }, () => check(stead.url, "ann")));
      const admitted = burst.filter((r) => r.status === 200);
      assert.equal(admitted.length, 10, JSON.stringify(burst.map((r) => r.status)));
      assert.deepEqual(
        admitted.map((r) => Number(r.remaining)).sort((a, b) => a - b),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      for (const refused of burst.filter((r) => r.status !== 200)) {
        assert.equal(refused.status, 429);
        // One token comes back every 6 s (10 per 60 s).
        assert.ok(["5", "6"].includes(refused.retryAfter!), `Retry-After ${refused.retryAfter}`);
        assert.equal(refused.body.allowed, false);
      }
      // Keys are independent, whatever they look like.
      assert.equal((await check(stead.url, "2001:db8::1")).remaining, "9");
      assert.equal((await check(stead.url, "bob")).remaining, "9");

      const bad = await fetch(`${stead.url}/check/ann?cost=99`, { method: "POST" });
      assert.equal(bad.status, 400);
      assert.deepEqual(await bad.json(), {
        error: 'cost must be a whole number from 1 to 10 (got "99")',
      });
      assert.deepEqual(await stead.stop("SIGKILL"), { code: null, signal: "SIGKILL" });
    }

    // Every answer was sent after its bucket was durable: a crash forgets nothing it admitted.
    await using again = await startStead("start", args, { store });
    assert.equal((await check(again.url, "ann")).status, 429);
    assert.equal((await check(again.url, "bob")).remaining, "8");
    const peek = await check(again.url, "2001:db8::1", "GET");
    assert.equal(peek.status, 200);
    assert.equal(peek.body.remaining, 9);
  });

  it("refills over real time at RATE_LIMIT per RATE_PERIOD_SECONDS", async () => {
    using work = tempDataDir();
    using store = testStore();
    // Ten requests per second: a token comes back every 100 ms.
    const app = await copyTemplate("rate-limiter", work.path, {
      file: "wrangler.jsonc",
      replace: ['"RATE_PERIOD_SECONDS": "60"', '"RATE_PERIOD_SECONDS": "1"'],
    });
    await using stead = await startStead("start", [app, ...HOST], { store });
    // Drain the bucket (tokens trickle back meanwhile, so it takes ten requests or a few more).
    let refused: Checked | undefined;
    let refusedSentAt = 0;
    for (let sent = 0; refused === undefined; sent++) {
      assert.ok(sent < 30, "the bucket never ran dry");
      refusedSentAt = Date.now();
      const answer = await check(stead.url, "cat");
      if (answer.status === 429) refused = answer;
    }
    assert.equal(refused.retryAfter, "1");
    assert.ok(refused.body.retryAfterMs > 0 && refused.body.retryAfterMs <= 100);

    // The bucket refills: first one token, then all of them.
    await eventually("a token to come back", async () =>
      (await check(stead.url, "cat")).status === 200 ? true : undefined,
    );
    const full = await eventually("the bucket to be full again", async () => {
      const peek = await check(stead.url, "cat", "GET");
      return peek.body.remaining === 10 ? peek : undefined;
    });
    // Under one token when refused, the bucket needed over 900 ms to fill.
    assert.ok(Date.now() - refusedSentAt >= 900, "the tokens came back faster than 10 per second");
    assert.equal(full.body.resetMs, 0);
    const burst = await Promise.all(Array.from({ length: 10 }, () => check(stead.url, "cat")));
    assert.ok(burst.every((r) => r.status === 200));
  });
});
