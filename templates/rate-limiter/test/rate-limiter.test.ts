import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createRuntime } from "stead";
import { runDurableObjectAlarm, runInDurableObject } from "stead/testing";

// The app as `stead start` runs it: its wrangler config (10 requests per 60 s), its code.
const app = new URL("..", import.meta.url);
const LIMIT = 10;
const TOKEN_MS = 6_000; // 60 s / 10 tokens

interface Decision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
  retryAfterMs: number;
}

/**
 * Moves a key's bucket `ms` into the past, as if that much time had gone by since its last
 * request: refill is computed from the time the object stored, so no test has to sleep.
 */
async function age(stub: any, ms: number): Promise<void> {
  await runInDurableObject(stub, (_instance, ctx) => {
    const bucket = ctx.storage.kv.get<{ tokens: number; updatedAt: number }>("bucket");
    assert.ok(bucket, "the key has a bucket");
    ctx.storage.kv.put("bucket", { ...bucket, updatedAt: bucket.updatedAt - ms });
  });
}

test("admits exactly RATE_LIMIT of a concurrent burst, each key on its own", async () => {
  await using rt = await createRuntime({ config: app });
  const check = (key: string) => rt.fetch(`http://app/check/${key}`, { method: "POST" });

  const burst = await Promise.all(Array.from({ length: 25 }, () => check("alice")));
  const admitted = burst.filter((r) => r.status === 200);
  const refused = burst.filter((r) => r.status === 429);
  assert.equal(admitted.length, LIMIT);
  assert.equal(refused.length, 25 - LIMIT);
  // Every token was handed out once: the admitted requests saw 9, 8, ... 0 remaining.
  const remaining = await Promise.all(admitted.map(async (r) => (await r.json()).remaining));
  assert.deepEqual(
    remaining.sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  for (const response of refused) {
    const body = (await response.json()) as Decision & { key: string };
    assert.equal(body.key, "alice");
    assert.equal(body.allowed, false);
    assert.equal(body.remaining, 0);
    assert.ok(body.retryAfterMs > 0 && body.retryAfterMs <= TOKEN_MS, `${body.retryAfterMs}`);
    assert.equal(response.headers.get("Retry-After"), String(Math.ceil(body.retryAfterMs / 1000)));
    assert.equal(response.headers.get("RateLimit-Remaining"), "0");
  }

  // Other keys are separate buckets: a user id, an IPv4 and an IPv6 address.
  for (const key of ["bob", "203.0.113.7", encodeURIComponent("2001:db8::1")]) {
    const response = await check(key);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("RateLimit-Limit"), "10");
    assert.equal(response.headers.get("RateLimit-Remaining"), "9");
    assert.equal((await response.json()).key, decodeURIComponent(key));
  }
  assert.equal((await check("alice")).status, 429);
});

test("never over-admits concurrent RPC calls with a cost", async () => {
  await using rt = await createRuntime({ config: app });
  const limiter = rt.env.LIMITERS.getByName("batch-importer");
  const decisions: Decision[] = await Promise.all(
    Array.from({ length: 30 }, () => limiter.check(3)),
  );
  // 10 tokens pay for three requests of 3; the last token is left over.
  assert.equal(decisions.filter((d) => d.allowed).length, 3);
  const status: Decision = await limiter.status();
  assert.equal(status.remaining, 1);
  // Nine tokens are missing; they come back one per 6 s (a few ms have gone by since).
  assert.ok(status.resetMs > 9 * TOKEN_MS - 1_000 && status.resetMs <= 9 * TOKEN_MS);
  // A refused call of cost 3 is told when two more tokens will be there.
  const refused = decisions.find((d) => !d.allowed)!;
  assert.ok(refused.retryAfterMs > 2 * TOKEN_MS - 1_000 && refused.retryAfterMs <= 2 * TOKEN_MS);
  assert.ok(await limiter.check(1).then((d: Decision) => d.allowed));
});

test("refills one token per RATE_PERIOD_SECONDS / RATE_LIMIT, from the stored time", async () => {
  await using rt = await createRuntime({ config: app });
  const limiter = rt.env.LIMITERS.getByName("carol");
  for (let i = 0; i < LIMIT; i++) assert.equal((await limiter.check()).allowed, true);
  const empty: Decision = await limiter.check();
  assert.equal(empty.allowed, false);
  assert.ok(empty.retryAfterMs > TOKEN_MS - 1_000 && empty.retryAfterMs <= TOKEN_MS);
  assert.ok(empty.resetMs > 60_000 - 1_000 && empty.resetMs <= 60_000);

  // Three tokens' worth of time later: exactly three more requests go through.
  await age(limiter, 3 * TOKEN_MS);
  const after = [];
  for (let i = 0; i < 4; i++) after.push((await limiter.check()).allowed);
  assert.deepEqual(after, [true, true, true, false]);

  // Half a token is not a token.
  await age(limiter, TOKEN_MS / 2);
  assert.equal((await limiter.check()).allowed, false);
  await age(limiter, TOKEN_MS / 2);
  assert.equal((await limiter.check()).allowed, true);

  // A whole period refills the bucket, and no further: it never holds more than RATE_LIMIT.
  await age(limiter, 10 * 60_000);
  const full: Decision = await limiter.status();
  assert.equal(full.remaining, LIMIT);
  assert.equal(full.resetMs, 0);
});

test("frees an idle key's storage by alarm once its bucket has refilled", async () => {
  await using rt = await createRuntime({ config: app });
  const limiter = rt.env.LIMITERS.getByName("dave");
  const before = Date.now();
  await limiter.check();
  await limiter.check();
  const alarm = await runInDurableObject(limiter, (_i, ctx) => ctx.storage.getAlarm());
  // Set when the first request was made, for when one token would have refilled it.
  assert.ok(alarm !== null && alarm >= before + TOKEN_MS && alarm <= Date.now() + TOKEN_MS);

  // Run early, the alarm finds the bucket short of two tokens and looks again later.
  assert.equal(await runDurableObjectAlarm(limiter), true);
  const stored = await runInDurableObject(limiter, async (_i, ctx) => ({
    bucket: ctx.storage.kv.get<{ tokens: number }>("bucket"),
    alarm: await ctx.storage.getAlarm(),
  }));
  assert.equal(Math.floor(stored.bucket!.tokens), LIMIT - 2);
  assert.ok(stored.alarm !== null && stored.alarm > Date.now() + TOKEN_MS);

  // Once the bucket would be full, the alarm deletes everything the key stored.
  await age(limiter, 2 * TOKEN_MS);
  assert.equal(await runDurableObjectAlarm(limiter), true);
  const left = await runInDurableObject(limiter, async (_i, ctx) => ({
    keys: [...ctx.storage.kv.list()].length,
    alarm: await ctx.storage.getAlarm(),
  }));
  assert.deepEqual(left, { keys: 0, alarm: null });
  assert.equal((await limiter.status()).remaining, LIMIT);
  assert.equal((await limiter.check()).remaining, LIMIT - 1);
});

test("DELETE resets a key, GET reads it without taking a token", async () => {
  await using rt = await createRuntime({ config: app });
  for (let i = 0; i < LIMIT; i++) await rt.fetch("http://app/check/erin", { method: "POST" });
  const peeked = await rt.fetch("http://app/check/erin");
  assert.equal(peeked.status, 200);
  assert.deepEqual(
    { ...(await peeked.json()), resetMs: 0, retryAfterMs: 0 },
    { key: "erin", allowed: false, limit: LIMIT, remaining: 0, resetMs: 0, retryAfterMs: 0 },
  );
  assert.equal((await rt.fetch("http://app/check/erin", { method: "DELETE" })).status, 204);
  const again = await rt.fetch("http://app/check/erin", { method: "POST" });
  assert.equal(again.status, 200);
  assert.equal((await again.json()).remaining, LIMIT - 1);
});

test("answers 400 for bad input, naming what is wrong", async () => {
  await using rt = await createRuntime({ config: app });
  const call = async (path: string, method = "POST") => {
    const response = await rt.fetch(`http://app${path}`, { method });
    return { status: response.status, body: await response.json().catch(() => null) };
  };
  assert.deepEqual(await call("/check/frank?cost=0"), {
    status: 400,
    body: { error: 'cost must be a whole number from 1 to 10 (got "0")' },
  });
  assert.equal((await call("/check/frank?cost=11")).status, 400);
  assert.equal((await call("/check/frank?cost=1.5")).status, 400);
  assert.equal((await call("/check/frank?cost=abc")).status, 400);
  assert.match((await call("/check/%E0%A4%A")).body.error, /percent-encoding/);
  assert.match((await call(`/check/${"k".repeat(257)}`)).body.error, /257 characters long/);
  assert.equal((await call("/check")).status, 404);
  assert.equal((await call("/check/frank", "PUT")).status, 405);
  // Nothing was taken by the refused requests.
  assert.equal((await call("/check/frank?cost=10")).status, 200);
  // RPC callers get the same check.
  await assert.rejects(rt.env.LIMITERS.getByName("frank").check(0), {
    name: "RangeError",
    message: "cost must be a whole number from 1 to 10 (got 0)",
  });
});

test("keeps a drained bucket through a restart", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "rate-limiter-test-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  {
    await using rt = await createRuntime({ config: app, dataDir });
    const limiter = rt.env.LIMITERS.getByName("gina");
    for (let i = 0; i < LIMIT; i++) assert.equal((await limiter.check()).allowed, true);
  }
  await using rt = await createRuntime({ config: app, dataDir });
  assert.equal((await rt.fetch("http://app/check/gina", { method: "POST" })).status, 429);
});
