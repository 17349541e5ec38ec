import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { TEMPLATES } from "../support/apps.ts";
import { fetchJson } from "../support/fetch.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";

const LEADERBOARD = join(TEMPLATES, "leaderboard");
const HOST = ["--host", "127.0.0.1"];

async function submit(base: string, board: string, player: string, score: unknown) {
  const response = await fetch(`${base}/boards/${board}/scores`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ player, score }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

function get(base: string, path: string) {
  return fetchJson(`${base}${path}`);
}

describe("templates/leaderboard under stead start", () => {
  it("ranks concurrent submissions, keeping bests, and keeps the board across a SIGKILL", async () => {
    using store = testStore();
    const args = [LEADERBOARD, ...HOST];
    const best = new Map<string, number>();
    let top: unknown;
    {
      await using stead = await startStead("start", args, { store });
      // 40 players, three scores each, all sent at once.
      const sent = Array.from({ length: 40 }, (_, i) => `player ${i}`).flatMap((player, i) =>
        [i % 13, (i * 7) % 17, i % 5].map((score) => ({ player, score: score * 10 })),
      );
      for (const { player, score } of sent)
        best.set(player, Math.max(best.get(player) ?? 0, score));
      const answers = await Promise.all(
        sent.map(({ player, score }) => submit(stead.url, "cup", player, score)),
      );
      assert.ok(answers.every((a) => a.status === 200));
      // Each player improved at least once, and never past their best.
      for (const player of best.keys()) {
        const theirs = answers.filter((a) => a.body.player === player);
        assert.ok(theirs.some((a) => a.body.improved));
        assert.ok(theirs.every((a) => a.body.score <= best.get(player)!));
      }

      const board = await get(stead.url, "/boards/cup/top?n=100");
      assert.equal(board.status, 200);
      assert.equal(board.body.total, 40);
      for (const entry of board.body.players) {
        assert.equal(entry.score, best.get(entry.player));
        const higher = [...best.values()].filter((s) => s > entry.score).length;
        assert.equal(entry.rank, higher + 1);
      }
      const scores = board.body.players.map((e: { score: number }) => e.score);
      assert.deepEqual(
        scores,
        [...best.values()].sort((a, b) => b - a),
      );
      top = board.body;

      const third = board.body.players[2];
      const standing = await get(
        stead.url,
        `/boards/cup/players/${encodeURIComponent(third.player)}`,
      );
      assert.deepEqual(standing.body, {
        board: "cup",
        ...third,
        above: board.body.players.slice(0, 2),
        below: board.body.players.slice(3, 5),
      });
      assert.deepEqual(await submit(stead.url, "cup", "", 5), {
        status: 400,
        body: { error: "player must be a name of 1 to 64 characters" },
      });
      assert.equal((await get(stead.url, "/boards/cup/players/nobody")).status, 404);
      assert.deepEqual(await stead.stop("SIGKILL"), { code: null, signal: "SIGKILL" });
    }

    await using again = await startStead("start", args, { store });
    assert.deepEqual((await get(again.url, "/boards/cup/top?n=100")).body, top);
    const comeback = await submit(again.url, "cup", "player 39", 1000);
    assert.equal(comeback.body.rank, 1);
    assert.equal(comeback.body.previous, best.get("player 39"));
  });
});
