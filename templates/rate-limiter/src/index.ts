import { DurableObject } from "cloudflare:workers";
import { type Bucket, type Decision, type Limits, peek, refillMs, take, tokensAt } from "./bucket";

export interface Env {
  LIMITERS: DurableObjectNamespace<RateLimiter>;
  RATE_LIMIT: string;
  RATE_PERIOD_SECONDS: string;
}

export type { Decision };

/** The storage key of the bucket (in the object's synchronous KV storage). */
const BUCKET = "bucket";

/** Longest key accepted, in characters: an API key, a user id, an IPv6 address fit easily. */
const MAX_KEY_LENGTH = 256;

/**
 * One key's token bucket. Every check of the key runs in this object, one at a time, and reads
 * and writes the bucket synchronously (`ctx.storage.kv`), so no two concurrent requests can both
 * take the last token: no lock, no transaction, no compare-and-swap.
 *
 * A full bucket is the same as no bucket, so an alarm set for when the bucket will be full again
 * deletes the key's storage: keys that stop calling cost nothing.
 */
export class RateLimiter extends DurableObject<Env> {
  /** Takes `cost` tokens if the bucket holds them: `allowed` says whether the request may go. */
  async check(cost = 1): Promise<Decision> {
    const limits = limitsOf(this.env);
    checkCost(cost, limits);
    const now = Date.now();
    const { decision, bucket } = take(this.#bucket(), limits, now, cost);
    if (!decision.allowed) return decision;
    this.ctx.storage.kv.put(BUCKET, bucket);
    // The decision is made and written above with no await in between. What follows only makes
    // sure a cleanup alarm exists: an alarm that fires before the bucket is full moves itself
    // later (see alarm()), so the first one set is good enough, and most checks skip the write.
    if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(now + decision.resetMs);
    }
    return decision;
  }

  /** What `check(cost)` would answer now, taking nothing. */
  async status(cost = 1): Promise<Decision> {
    const limits = limitsOf(this.env);
    checkCost(cost, limits);
    return peek(this.#bucket(), limits, Date.now(), cost);
  }

  /** Forgets the key: its bucket is full again. */
  async reset(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  /** Frees the key's storage once its bucket has refilled; otherwise looks again when it will have. */
  override async alarm(): Promise<void> {
    const bucket = this.#bucket();
    if (bucket === undefined) return;
    const limits = limitsOf(this.env);
    const now = Date.now();
    const missing = limits.limit - tokensAt(bucket, limits, now);
    // deleteAll() also deletes the alarm (compatibility date 2026-02-24 or later).
    if (missing <= 0) await this.ctx.storage.deleteAll();
    else await this.ctx.storage.setAlarm(now + refillMs(missing, limits));
  }

  #bucket(): Bucket | undefined {
    return this.ctx.storage.kv.get<Bucket>(BUCKET);
  }
}

/** The limits the vars set, refusing values that would make the bucket meaningless. */
export function limitsOf(env: Env): Limits {
  const limit = Number(env.RATE_LIMIT);
  const periodSeconds = Number(env.RATE_PERIOD_SECONDS);
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new Error(
      `RATE_LIMIT must be a whole number of requests, like "10" (got "${env.RATE_LIMIT}")`,
    );
  }
  if (!(periodSeconds > 0) || !Number.isFinite(periodSeconds)) {
    throw new Error(
      `RATE_PERIOD_SECONDS must be a positive number of seconds, like "60" (got "${env.RATE_PERIOD_SECONDS}")`,
    );
  }
  return { limit, periodMs: periodSeconds * 1000 };
}

function checkCost(cost: number, limits: Limits): void {
  if (!Number.isSafeInteger(cost) || cost < 1 || cost > limits.limit) {
    throw new RangeError(`cost must be a whole number from 1 to ${limits.limit} (got ${cost})`);
  }
}

export default {
  /**
   * `POST /check/<key>[?cost=n]` takes tokens: 200, or 429 with Retry-After.
   * `GET /check/<key>` shows the key's state, taking nothing. `DELETE /check/<key>` resets it.
   */
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const match = /^\/check\/([^/]+)$/.exec(url.pathname);
    if (!match) return error(404, "Not found. Use POST /check/<key>");
    const key = parseKey(match[1]!);
    if (typeof key !== "string") return key;
    const limits = limitsOf(env);
    const cost = parseCost(url.searchParams.get("cost"), limits);
    if (typeof cost !== "number") return cost;
    const limiter = env.LIMITERS.getByName(key);
    switch (request.method) {
      case "POST": {
        const decision = await limiter.check(cost);
        return answer(key, decision, decision.allowed ? 200 : 429);
      }
      case "GET":
        return answer(key, await limiter.status(cost), 200);
      case "DELETE":
        await limiter.reset();
        return new Response(null, { status: 204 });
      default:
        return new Response("Use POST, GET or DELETE", {
          status: 405,
          headers: { Allow: "POST, GET, DELETE" },
        });
    }
  },
} satisfies ExportedHandler<Env>;

function parseKey(segment: string): string | Response {
  let key: string;
  try {
    key = decodeURIComponent(segment);
  } catch {
    return error(400, "The key is not valid percent-encoding; encode it with encodeURIComponent");
  }
  if (key.length > MAX_KEY_LENGTH) {
    return error(
      400,
      `The key is ${key.length} characters long; at most ${MAX_KEY_LENGTH} are allowed`,
    );
  }
  return key;
}

function parseCost(value: string | null, limits: Limits): number | Response {
  if (value === null) return 1;
  const cost = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (cost >= 1 && cost <= limits.limit) return cost;
  return error(400, `cost must be a whole number from 1 to ${limits.limit} (got "${value}")`);
}

/** The decision as JSON, with the RateLimit-* headers (in seconds) clients already understand. */
function answer(key: string, decision: Decision, status: number): Response {
  const headers = new Headers({
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(decision.remaining),
    "RateLimit-Reset": String(Math.ceil(decision.resetMs / 1000)),
  });
  if (status === 429)
    headers.set("Retry-After", String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))));
  return Response.json({ key, ...decision }, { status, headers });
}

function error(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}
