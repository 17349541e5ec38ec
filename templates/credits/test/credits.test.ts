import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import pg from "pg";
import { createRuntime } from "stead";

// The app as `stead start` runs it (its wrangler config, its code, its queue), with the change
// feed of UserCredits into a fresh schema of a real PostgreSQL, which `GET /low-balance` reads.
// CREDITS_TEST_DATABASE_URL names the database (trust or a password in the URL); each test's
// schema is made by the feed and dropped after it.
const app = new URL("..", import.meta.url);
const DATABASE = process.env.CREDITS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const admin = new pg.Pool({ connectionString: DATABASE, max: 1 });
after(() => admin.end());

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

/**
 * The app with the feed into a schema of its own, dropped when disposed: each runtime starts
 * from an empty data directory, so its objects' feed sequences start again too.
 */
async function start(): Promise<Runtime & AsyncDisposable> {
  const schema = `credits_test_${randomBytes(6).toString("hex")}`;
  const feedUrl = `${DATABASE}${DATABASE.includes("?") ? "&" : "?"}schema=${schema}`;
  const rt = await createRuntime({
    config: app,
    feed: { classes: ["UserCredits"], sinks: [feedUrl] },
    vars: { FEED_DATABASE_URL: feedUrl },
  });
  return Object.assign(rt, {
    async [Symbol.asyncDispose]() {
      await rt.dispose();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  });
}

async function call(rt: Runtime, method: string, path: string, body?: unknown) {
  const response = await rt.fetch(`http://app${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

const grant = (rt: Runtime, id: string, amount: number) =>
  call(rt, "POST", `/users/${id}/grant`, { amount });
const spend = (rt: Runtime, id: string, amount: number) =>
  call(rt, "POST", `/users/${id}/spend`, { amount });

/** Polls `check` until it returns something other than undefined, failing after 10 s. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("the projection answers who is low; crossing the threshold sends credits.low once", async () => {
  await using rt = await start();
  const users = { ann: [50, -45], bob: [20, -5], cat: [8], dan: [30, -30], eve: [12, -2, -1] };
  for (const [id, changes] of Object.entries(users)) {
    for (const amount of changes) {
      const result = amount > 0 ? await grant(rt, id, amount) : await spend(rt, id, -amount);
      assert.equal(result.status, 200, JSON.stringify(result.body));
    }
  }
  assert.deepEqual((await call(rt, "GET", "/users/eve")).body.balance, 9);

  // Every object's own answer, and the projection once it has caught up with them.
  const balances = new Map<string, number>();
  for (const id of Object.keys(users)) {
    balances.set(id, (await call(rt, "GET", `/users/${id}`)).body.balance);
  }
  const expected = [...balances]
    .filter(([, balance]) => balance < 10)
    .map(([userId, balance]) => ({ userId, balance }))
    .sort((a, b) => a.balance - b.balance || a.userId.localeCompare(b.userId));
  assert.deepEqual(
    expected.map((user) => user.userId),
    ["dan", "ann", "cat", "eve"],
  );
  const low = await eventually("the projection to catch up", async () => {
    const { body } = await call(rt, "GET", "/low-balance?below=10");
    const got = body.users.map(({ userId, balance }: any) => ({ userId, balance }));
    return JSON.stringify(got) === JSON.stringify(expected) ? body : undefined;
  });
  assert.equal(low.below, 10);
  assert.deepEqual(
    (await call(rt, "GET", "/low-balance?below=25")).body.users.map((u: any) => u.userId),
    ["dan", "ann", "cat", "eve", "bob"],
  );

  // ann (50 -> 5), dan (30 -> 0) and eve (10 -> 9) crossed below 10; cat started below it and
  // eve's second spend stayed there.
  const notifications = await eventually("three credits.low notifications", async () => {
    const { body } = await call(rt, "GET", "/notifications");
    return body.length >= 3 ? body : undefined;
  });
  const byUser = new Map(notifications.map((n: any) => [n.userId, n.balance]));
  assert.deepEqual(Object.fromEntries([...byUser].sort()), { ann: 5, dan: 0, eve: 9 });
});

test("a spend past the balance is refused and changes nothing", async () => {
  await using rt = await start();
  await grant(rt, "fay", 7);
  assert.deepEqual(await spend(rt, "fay", 8), {
    status: 409,
    body: {
      error: "Cannot spend 8 credits: user fay has 7. Grant more first (POST /users/fay/grant).",
    },
  });
  const fay = (await call(rt, "GET", "/users/fay")).body;
  assert.equal(fay.balance, 7);
  assert.deepEqual(
    fay.ledger.map((entry: any) => [entry.kind, entry.amount, entry.balance]),
    [["grant", 7, 7]],
  );
  assert.equal((await spend(rt, "fay", 7)).body.balance, 0);
});

test("refuses what it cannot do, saying why", async () => {
  await using rt = await start();
  const missing = {
    status: 404,
    body: { error: "No credits for user gus: grant some first with POST /users/gus/grant" },
  };
  assert.deepEqual(await call(rt, "GET", "/users/gus"), missing);
  assert.deepEqual(await spend(rt, "gus", 1), missing);
  for (const body of [undefined, { amount: 0 }, { amount: 1.5 }, { amount: "5" }]) {
    const refused = await call(rt, "POST", "/users/gus/grant", body);
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.match(refused.body.error, /^Send JSON like \{"amount": 5\}/);
  }
  assert.equal((await call(rt, "GET", "/low-balance?below=ten")).status, 400);
  assert.equal((await rt.fetch("http://app/users/gus/grant")).status, 405);
  assert.equal((await rt.fetch("http://app/low-balance", { method: "POST" })).status, 405);
  assert.equal((await rt.fetch("http://app/accounts/gus")).status, 404);
});
