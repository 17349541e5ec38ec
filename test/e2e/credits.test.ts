// templates/credits under `stead start`, with the change feed into a fresh PostgreSQL schema:
// the cross-object question (`GET /low-balance`) answered by the projection equals what the
// objects themselves say, across a SIGKILL and a restart, and the `credits.low` events reach the
// queue's consumer exactly for the users whose balance crossed the threshold.
import assert from "node:assert/strict";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { copyTemplate, TEMPLATES } from "../support/apps.ts";
import { feedSchema } from "../support/feed-postgres.ts";
import { fetchJson } from "../support/fetch.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const THRESHOLD = 10;
const NODE_MODULES = join(TEMPLATES, "..", "node_modules");
type Change = ["grant" | "spend", number];

/** Each user's changes before the SIGKILL and after the restart (`spend` past the balance: refused). */
const SCRIPTS: Record<string, [before: Change[], after: Change[]]> = {
  "user-0": [
    [
      ["grant", 4],
      ["spend", 1],
    ],
    [["spend", 3]],
  ], // below from the start: no event
  "user-1": [
    [
      ["grant", 7],
      ["spend", 8],
    ],
    [["grant", 1]],
  ],
  "user-2": [[["grant", 10]], [["spend", 3]]], // crosses after the restart
  "user-3": [
    [
      ["grant", 13],
      ["spend", 4],
    ],
    [["grant", 1]],
  ], // crosses, then is back at 10
  "user-4": [
    [
      ["grant", 16],
      ["spend", 6],
    ],
    [["spend", 3]],
  ], // at 10 exactly, then crosses
  "user-5": [
    [
      ["grant", 19],
      ["spend", 12],
    ],
    [],
  ],
  "user-6": [
    [
      ["grant", 22],
      ["spend", 5],
    ],
    [["spend", 3]],
  ],
  "user-7": [
    [
      ["grant", 25],
      ["spend", 25],
    ],
    [],
  ], // to zero
  "user-8": [
    [
      ["grant", 28],
      ["spend", 30],
    ],
    [["spend", 3]],
  ],
  "user-9": [
    [
      ["grant", 31],
      ["spend", 20],
    ],
    [["grant", 1]],
  ],
  "user-10": [[["grant", 34]], [["spend", 3]]],
  "user-11": [
    [
      ["grant", 37],
      ["spend", 40],
      ["spend", 37],
    ],
    [],
  ],
};
const USERS = Object.keys(SCRIPTS);

/** What the test expects of the users, from the answers the server gave. */
class Model {
  readonly balances = new Map<string, number>();
  /** Users one of whose spends took the balance from THRESHOLD or more to below it. */
  readonly crossed = new Set<string>();

  async change(base: string, userId: string, action: "grant" | "spend", amount: number) {
    const { status, body } = await fetchJson(`${base}/users/${userId}/${action}`, {
      method: "POST",
      body: JSON.stringify({ amount }),
    });
    const before = this.balances.get(userId) ?? 0;
    if (action === "spend" && amount > before) {
      assert.equal(status, 409, JSON.stringify(body));
      assert.match(
        body.error,
        new RegExp(`^Cannot spend ${amount} credits: user ${userId} has ${before}\\.`),
      );
      return;
    }
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.balance, action === "grant" ? before + amount : before - amount);
    this.balances.set(userId, body.balance);
    if (before >= THRESHOLD && body.balance < THRESHOLD) this.crossed.add(userId);
  }
}

describe("templates/credits under stead start --feed", () => {
  it("answers who is low from the projection, exactly, and sends credits.low through the queue, across a SIGKILL", async () => {
    using work = tempDataDir();
    using store = testStore();
    await using pg = await feedSchema();
    const app = await copyTemplate("credits", work.path, {
      file: "wrangler.jsonc",
      replace: [
        `"FEED_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres"`,
        `"FEED_DATABASE_URL": ${JSON.stringify(pg.url)}`,
      ],
    });
    // The repository's node_modules, as an installed app has them: the Worker imports pg.
    symlinkSync(NODE_MODULES, join(app, "node_modules"));
    const args = [app, "--host", "127.0.0.1", "--feed-classes", "UserCredits", "--feed", pg.url];
    const model = new Model();

    await using first = await startStead("start", args, { store });
    for (const [userId, [changes]] of Object.entries(SCRIPTS)) {
      for (const [action, amount] of changes) await model.change(first.url, userId, action, amount);
    }
    assert.deepEqual(await first.stop("SIGKILL"), { code: null, signal: "SIGKILL" });

    await using again = await startStead("start", args, { store });
    for (const [userId, [, changes]] of Object.entries(SCRIPTS)) {
      for (const [action, amount] of changes) await model.change(again.url, userId, action, amount);
    }
    assert.deepEqual([...model.crossed].sort(), [
      "user-11",
      "user-2",
      "user-3",
      "user-4",
      "user-5",
      "user-7",
    ]);

    // The objects' own answers agree with the model.
    const balances = new Map<string, number>();
    for (const userId of USERS) {
      const { status, body } = await fetchJson(`${again.url}/users/${userId}`);
      assert.equal(status, 200);
      balances.set(userId, body.balance);
    }
    assert.deepEqual(balances, model.balances);

    // The projection catches up: every user's balance in PostgreSQL is the object's.
    const everyone = `${again.url}/low-balance?below=${Number.MAX_SAFE_INTEGER}`;
    await eventually(
      "the projection to hold every object's balance",
      async () => {
        const { body } = await fetchJson(everyone);
        const projected = new Map(body.users.map((u: any) => [u.userId, u.balance]));
        return JSON.stringify([...projected].sort()) === JSON.stringify([...balances].sort())
          ? true
          : undefined;
      },
      { timeoutMs: 15_000 },
    );
    const rows = await pg.query<{ object_id: string }>(
      `SELECT object_id FROM "${pg.schema}"."UserCredits_balance"`,
    );
    assert.equal(rows.length, USERS.length, "one projected row per user object");

    // The cross-object question, answered by the projection, is the objects' answer.
    const expected = [...balances]
      .filter(([, balance]) => balance < THRESHOLD)
      .sort(([a, x], [b, y]) => x - y || a.localeCompare(b))
      .map(([userId, balance]) => ({ userId, balance }));
    assert.ok(expected.length > 0);
    const low = await fetchJson(`${again.url}/low-balance?below=${THRESHOLD}`);
    assert.equal(low.status, 200);
    assert.deepEqual(
      low.body.users.map(({ userId, balance }: any) => ({ userId, balance })),
      expected,
    );

    // credits.low arrived through the queue for exactly the users who crossed (at least once
    // each: a message the SIGKILL caught mid-delivery comes again, recorded once by its id).
    const notified = await eventually(
      "a credits.low notification for every user who crossed the threshold",
      async () => {
        const { body } = await fetchJson(`${again.url}/notifications`);
        const users = new Set<string>(body.map((n: any) => n.userId));
        return [...model.crossed].every((userId) => users.has(userId)) ? body : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.deepEqual(
      [...new Set(notified.map((n: any) => n.userId))].sort(),
      [...model.crossed].sort(),
    );
    for (const notification of notified) {
      assert.equal(notification.type, "credits.low");
      assert.ok(notification.balance < THRESHOLD);
    }
  });
});
