import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createRuntime,
  type DurableObjectNamespace,
  ManualClock,
  type RateLimit,
  type RateLimitBindingOptions,
} from "stead";
import { skipUnless, storageOptions, testStore } from "../support/storage.ts";

const WORKER = new URL("../fixtures/ratelimit-worker.ts", import.meta.url);

function limiter(
  name: string,
  namespace_id: string,
  limit: number,
  period: 10 | 60 = 60,
): RateLimitBindingOptions {
  return { name, namespace_id, simple: { limit, period } };
}

async function rateLimitRuntime(ratelimits: RateLimitBindingOptions[], clock = new ManualClock()) {
  const rt = await createRuntime({
    main: WORKER,
    durableObjects: { GATES: "Gate" },
    ratelimits,
    clock,
    ...storageOptions(),
  });
  return { rt, clock };
}

/** The statuses of GET /<binding>/<key>, `times` times in a row. */
async function statuses(
  rt: { fetch(url: string): Promise<Response> },
  binding: string,
  key: string,
  times: number,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) {
    const response = await rt.fetch(`http://x/${binding}/${encodeURIComponent(key)}`);
    await response.arrayBuffer();
    out.push(response.status);
  }
  return out;
}

describe("Rate Limiting bindings (ratelimits)", () => {
  it("allows `limit` calls per key, then refuses; other keys count apart", async () => {
    const { rt } = await rateLimitRuntime([limiter("LIMITER", "1001", 3)]);
    await using _ = rt;
    assert.deepEqual(await statuses(rt, "LIMITER", "user-42", 5), [200, 200, 200, 429, 429]);
    assert.deepEqual(await statuses(rt, "LIMITER", "user-7", 4), [200, 200, 200, 429]);
    // Any string is a key: the empty one, one with slashes or emoji.
    const env = rt.env as Record<string, RateLimit>;
    assert.deepEqual(await env.LIMITER!.limit({ key: "" }), { success: true });
    assert.deepEqual(await env.LIMITER!.limit({ key: "/a/b 🦊" }), { success: true });
    assert.deepEqual(await statuses(rt, "LIMITER", "user-42", 1), [429]);
  });

  it("counts calls from Durable Objects on the same counters as the Worker's", async () => {
    const { rt } = await rateLimitRuntime([limiter("LIMITER", "1001", 2)]);
    await using _ = rt;
    const gates = rt.env.GATES as DurableObjectNamespace;
    const a = gates.getByName("a") as any;
    const b = gates.getByName("b") as any;
    assert.equal(await a.admit("LIMITER", "k"), true);
    assert.deepEqual(await statuses(rt, "LIMITER", "k", 1), [200]);
    assert.equal(await b.admit("LIMITER", "k"), false);
    assert.equal(await a.admit("LIMITER", "other"), true);
  });

  it("shares counters between bindings with the same namespace_id, each with its own limit", async () => {
    const { rt } = await rateLimitRuntime([
      limiter("LIMITER", "1001", 2),
      limiter("SAME", "1001", 4),
      limiter("OTHER", "2002", 2),
    ]);
    await using _ = rt;
    assert.deepEqual(await statuses(rt, "LIMITER", "k", 3), [200, 200, 429]);
    // SAME counts on from the two calls LIMITER let through.
    assert.deepEqual(await statuses(rt, "SAME", "k", 3), [200, 200, 429]);
    assert.deepEqual(await statuses(rt, "LIMITER", "k", 1), [429]);
    assert.deepEqual(await statuses(rt, "OTHER", "k", 3), [200, 200, 429]);
  });

  it("starts a key over when the clock passes the end of its window of `period` seconds", async () => {
    const { rt, clock } = await rateLimitRuntime([
      limiter("MINUTE", "1", 2, 60),
      limiter("TEN", "2", 1, 10),
    ]);
    await using _ = rt;
    // Windows are aligned to multiples of the period since the epoch; ManualClock starts on one.
    assert.equal(clock.now() % 60_000, 0);
    assert.deepEqual(await statuses(rt, "MINUTE", "k", 3), [200, 200, 429]);
    assert.deepEqual(await statuses(rt, "TEN", "k", 2), [200, 429]);
    await clock.advance(9_999);
    assert.deepEqual(await statuses(rt, "TEN", "k", 1), [429]);
    await clock.advance(1);
    assert.deepEqual(await statuses(rt, "TEN", "k", 2), [200, 429]);
    assert.deepEqual(await statuses(rt, "MINUTE", "k", 1), [429]);
    await clock.advance(50_000);
    assert.deepEqual(await statuses(rt, "MINUTE", "k", 3), [200, 200, 429]);
  });

  it("refuses a call without a string key with a TypeError naming the binding", async () => {
    const { rt } = await rateLimitRuntime([limiter("LIMITER", "1001", 1)]);
    await using _ = rt;
    const env = rt.env as Record<string, any>;
    await assert.rejects(env.LIMITER.limit({}), {
      name: "TypeError",
      message:
        'env.LIMITER.limit(): key must be a string, like limit({ key: "user-42" }); got no key.',
    });
    await assert.rejects(env.LIMITER.limit({ key: 42 }), {
      name: "TypeError",
      message: /key must be a string.*got number 42/,
    });
    await assert.rejects(env.LIMITER.limit("user-42"), {
      name: "TypeError",
      message:
        'env.LIMITER.limit() takes an object with the key to count, like limit({ key: "user-42" }); got string user-42.',
    });
    await assert.rejects(env.LIMITER.limit(), { name: "TypeError", message: /got undefined/ });
    // A refused call counts nothing.
    assert.deepEqual(await env.LIMITER.limit({ key: "user-42" }), { success: true });
  });

  it("refuses bad options at startup, naming the option", async () => {
    const refused = async (ratelimits: unknown, ...parts: string[]) => {
      await assert.rejects(
        createRuntime({ main: WORKER, ratelimits: ratelimits as RateLimitBindingOptions[] }),
        (error: any) => {
          assert.equal(error.code, "INVALID_CONFIG", error.message);
          for (const part of parts) {
            assert.ok(error.message.includes(part), `expected "${part}" in:\n${error.message}`);
          }
          return true;
        },
      );
    };
    await refused(
      [{ name: "A", namespace_id: "1", simple: { limit: 5, period: 30 } }],
      "ratelimits.0.simple.period: must be 10 or 60 (seconds), the periods Cloudflare allows; got 30",
    );
    await refused(
      [{ name: "A", namespace_id: "1", simple: { limit: 0, period: 60 } }],
      "ratelimits.0.simple.limit: must be a positive whole number of calls per period, like 100; got 0",
    );
    await refused(
      [{ name: "A", namespace_id: "one", simple: { limit: 5, period: 60 } }],
      'ratelimits.0.namespace_id: must be a whole number as a string, like "1001"; got "one"',
    );
    await refused(
      [{ name: "A", namespace_id: "1", simple: { limit: 5, period: 60, burst: 2 } }],
      "ratelimits.0.simple",
      "burst",
    );
    await refused(
      [limiter("A", "1", 5), limiter("A", "2", 5)],
      "ratelimits: A is also bound by ratelimits; give each binding its own name",
    );
    await refused(
      [limiter("A", "1", 5, 60), limiter("B", "1", 5, 10)],
      'ratelimits[1].simple.period: 10 differs from the period 60 of ratelimits[0], which has the same namespace_id "1"',
    );
  });

  it("counts on each thread apart: objects on object threads have their own counters", {
    skip: skipUnless("threads", "runs objects on object threads"),
  }, async () => {
    using store = testStore();
    await using rt = await createRuntime({
      main: WORKER,
      durableObjects: { GATES: "Gate" },
      ratelimits: [limiter("LIMITER", "1001", 2)],
      threads: 1,
      ...store.options,
    });
    assert.deepEqual(await statuses(rt, "LIMITER", "k", 3), [200, 200, 429]);
    const gate = (rt.env.GATES as DurableObjectNamespace).getByName("a") as any;
    assert.deepEqual(
      [
        await gate.admit("LIMITER", "k"),
        await gate.admit("LIMITER", "k"),
        await gate.admit("LIMITER", "k"),
      ],
      [true, true, false],
    );
  });
});
