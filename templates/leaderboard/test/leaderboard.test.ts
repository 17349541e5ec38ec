import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createRuntime } from "stead";

// The app as `stead start` runs it: its wrangler config, its code, a data directory.
const app = new URL("..", import.meta.url);

interface Entry {
  rank: number;
  player: string;
  score: number;
  achievedAt: number;
}

async function post(rt: { fetch: typeof fetch }, board: string, body: unknown) {
  const response = await rt.fetch(`http://app/boards/${board}/scores`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function get(rt: { fetch: typeof fetch }, path: string) {
  const response = await rt.fetch(`http://app${path}`);
  return { status: response.status, body: await response.json() };
}

/** Resolves once Date.now() has moved past `since`, so two scores get distinct times. */
async function clockPast(since: number): Promise<void> {
  while (Date.now() <= since) await new Promise((resolve) => setImmediate(resolve));
}

test("keeps each player's best score", async () => {
  await using rt = await createRuntime({ config: app });
  const first = await post(rt, "arena", { player: "ann", score: 100 });
  assert.equal(first.status, 200);
  const { achievedAt } = first.body;
  assert.deepEqual(first.body, {
    board: "arena",
    rank: 1,
    player: "ann",
    score: 100,
    achievedAt,
    improved: true,
    previous: null,
  });
  // A lower or equal score changes nothing, not even when the best was reached.
  for (const score of [50, 100]) {
    assert.deepEqual((await post(rt, "arena", { player: "ann", score })).body, {
      ...first.body,
      improved: false,
      previous: 100,
    });
  }
  await clockPast(achievedAt);
  const better = (await post(rt, "arena", { player: "ann", score: 150.5 })).body;
  assert.equal(better.score, 150.5);
  assert.equal(better.improved, true);
  assert.equal(better.previous, 100);
  assert.ok(better.achievedAt > achievedAt);
  // Boards are separate objects.
  assert.equal((await post(rt, "other", { player: "ann", score: 1 })).body.previous, null);
  assert.deepEqual((await get(rt, "/boards/arena/players/ann")).body.score, 150.5);
});

test("ranks many players with ties: top N, every rank, every player's neighbours", async () => {
  // A bigger MAX_TOP than the app's, to read the whole board at once and compare against it.
  await using rt = await createRuntime({ config: app, vars: { MAX_TOP: "1000", NEIGHBOURS: "2" } });
  const board = rt.env.BOARDS.getByName("big");
  // 300 players, 1 to 3 scores each, from a small range (so many tie), some below zero.
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  const players = Array.from({ length: 300 }, (_, i) => `player-${i}`);
  const submissions = players.flatMap((player) =>
    Array.from({ length: 1 + random(3) }, () => ({ player, score: random(80) - 10 })),
  );
  const best = new Map<string, number>();
  for (const { player, score } of submissions) {
    best.set(player, Math.max(best.get(player) ?? -Infinity, score));
  }
  // All at once, interleaved: the object takes them one at a time.
  submissions.sort(() => random(3) - 1);
  await Promise.all(submissions.map(({ player, score }) => board.submit(player, score)));

  const { total, players: all } = (await board.top(1000)) as { total: number; players: Entry[] };
  assert.equal(total, players.length);
  assert.equal(all.length, players.length);
  assert.deepEqual(new Set(all.map((e) => e.player)), new Set(players));
  for (const [index, entry] of all.entries()) {
    assert.equal(entry.score, best.get(entry.player), entry.player);
    // Competition ranking: one more than the players with a strictly higher best.
    const higher = [...best.values()].filter((score) => score > entry.score).length;
    assert.equal(entry.rank, higher + 1, entry.player);
    // Board order: higher first; in a tie, who got there first, then by name.
    const next = all[index + 1];
    if (next !== undefined) {
      assert.ok(
        entry.score > next.score ||
          (entry.score === next.score &&
            (entry.achievedAt < next.achievedAt ||
              (entry.achievedAt === next.achievedAt && entry.player < next.player))),
        `${JSON.stringify(entry)} before ${JSON.stringify(next)}`,
      );
    }
  }
  assert.ok(new Set(all.map((e) => e.rank)).size < 80, "the test has ties");

  // The top N over HTTP is the start of the same order.
  for (const n of [1, 10, 100]) {
    const top = await get(rt, `/boards/big/top?n=${n}`);
    assert.deepEqual(top.body, { board: "big", total: 300, players: all.slice(0, n) });
  }
  assert.deepEqual((await get(rt, "/boards/big/top")).body.players, all.slice(0, 10));

  // Each player's standing: their own entry and the two above and below them.
  for (const [index, entry] of all.entries()) {
    const standing = await board.standing(entry.player);
    assert.deepEqual(standing, {
      ...entry,
      above: all.slice(Math.max(0, index - 2), index),
      below: all.slice(index + 1, index + 3),
    });
  }
  const middle = all[150]!;
  const wide = await get(rt, `/boards/big/players/${middle.player}?around=10`);
  assert.deepEqual(wide.body, {
    board: "big",
    ...middle,
    above: all.slice(140, 150),
    below: all.slice(151, 161),
  });
  const alone = await get(rt, `/boards/big/players/${middle.player}?around=0`);
  assert.deepEqual([alone.body.above, alone.body.below], [[], []]);
});

test("orders a tie by who reached the score first, sharing the rank", async () => {
  await using rt = await createRuntime({ config: app });
  const zed = await post(rt, "tie", { player: "zed", score: 500 });
  await clockPast(zed.body.achievedAt);
  const amy = await post(rt, "tie", { player: "amy", score: 500 });
  assert.deepEqual([zed.body.rank, amy.body.rank], [1, 1]);
  await post(rt, "tie", { player: "bob", score: 700 });
  await post(rt, "tie", { player: "cat", score: 300 });
  const top = (await get(rt, "/boards/tie/top")).body.players as Entry[];
  assert.deepEqual(
    top.map((e) => [e.rank, e.player, e.score]),
    [
      [1, "bob", 700],
      [2, "zed", 500],
      [2, "amy", 500],
      [4, "cat", 300],
    ],
  );
  const standing = (await get(rt, "/boards/tie/players/amy")).body;
  assert.deepEqual(
    [standing.above.map((e: Entry) => e.player), standing.rank, standing.below[0].player],
    [["bob", "zed"], 2, "cat"],
  );
});

test("removes a player, moving the others up", async () => {
  await using rt = await createRuntime({ config: app });
  for (const [player, score] of [
    ["ann", 30],
    ["bob", 20],
    ["cat", 10],
  ] as const) {
    await post(rt, "cheats", { player, score });
  }
  const removed = await rt.fetch("http://app/boards/cheats/players/ann", { method: "DELETE" });
  assert.equal(removed.status, 204);
  assert.equal((await get(rt, "/boards/cheats/players/bob")).body.rank, 1);
  assert.deepEqual(await get(rt, "/boards/cheats/players/ann"), {
    status: 404,
    body: { error: "ann has no score on board cheats" },
  });
  const again = await rt.fetch("http://app/boards/cheats/players/ann", { method: "DELETE" });
  assert.equal(again.status, 404);
  assert.equal((await get(rt, "/boards/cheats/top")).body.total, 2);
});

test("answers 400 for bad input, naming what is wrong", async () => {
  await using rt = await createRuntime({ config: app });
  const bad = async (body: unknown, error: string) => {
    const raw = typeof body === "string" ? body : JSON.stringify(body);
    const response = await rt.fetch("http://app/boards/arena/scores", {
      method: "POST",
      body: raw,
    });
    assert.deepEqual(
      { status: response.status, body: await response.json() },
      { status: 400, body: { error } },
      raw,
    );
  };
  await bad("not json", 'Send JSON like {"player": "ann", "score": 1200}');
  await bad({ score: 1 }, "player must be a name of 1 to 64 characters");
  await bad({ player: "", score: 1 }, "player must be a name of 1 to 64 characters");
  await bad({ player: "x".repeat(65), score: 1 }, "player must be a name of 1 to 64 characters");
  await bad({ player: "a\nb", score: 1 }, "player must not contain control characters");
  await bad({ player: "ann" }, "score must be a finite number (got nothing)");
  await bad({ player: "ann", score: "100" }, 'score must be a finite number (got "100")');
  await bad({ player: "ann", score: null }, "score must be a finite number (got null)");

  assert.deepEqual(await get(rt, "/boards/arena/top?n=0"), {
    status: 400,
    body: { error: "n must be a whole number from 1 to 100 (got 0)" },
  });
  assert.equal((await get(rt, "/boards/arena/top?n=101")).status, 400);
  assert.deepEqual((await get(rt, "/boards/arena/top?n=ten")).body, {
    error: 'n must be a whole number from 1 to 100 (got "ten")',
  });
  assert.equal((await get(rt, "/boards/arena/players/ann?around=11")).status, 400);
  assert.equal((await get(rt, "/boards/arena/players/ann?around=-1")).status, 400);
  assert.deepEqual((await get(rt, "/boards/bad%20board/top")).body, {
    error: "board must be 1 to 64 letters, digits, '-' or '_'",
  });
  assert.equal((await get(rt, "/boards/arena/players/%E0%A4%A")).status, 400);
  assert.equal((await get(rt, "/boards/arena")).status, 404);
  assert.equal((await rt.fetch("http://app/boards/arena/scores")).status, 405);
  assert.equal((await rt.fetch("http://app/boards/arena/top", { method: "POST" })).status, 405);
  // Nothing reached the board.
  assert.deepEqual((await get(rt, "/boards/arena/top")).body, {
    board: "arena",
    total: 0,
    players: [],
  });
  // RPC callers are held to the same rules.
  await assert.rejects(rt.env.BOARDS.getByName("arena").submit("ann", Number.NaN), {
    name: "TypeError",
    message: "score must be a finite number (got NaN)",
  });
});

test("keeps the board through a restart", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "leaderboard-test-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  let before: unknown;
  {
    await using rt = await createRuntime({ config: app, dataDir });
    for (let i = 0; i < 20; i++) {
      await post(rt, "season-1", { player: `p${i}`, score: (i * 7) % 10 });
    }
    before = (await get(rt, "/boards/season-1/top?n=20")).body;
  }
  await using rt = await createRuntime({ config: app, dataDir });
  assert.deepEqual((await get(rt, "/boards/season-1/top?n=20")).body, before);
  assert.equal((await post(rt, "season-1", { player: "p3", score: 100 })).body.rank, 1);
});
