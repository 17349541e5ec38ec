import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { copyTemplate, TEMPLATES } from "../support/apps.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const RESERVATIONS = join(TEMPLATES, "reservations");
const HOST = ["--host", "127.0.0.1"];

interface Seat {
  seat: string;
  state: "held" | "confirmed";
  holder: string;
  expiresAt: number | null;
}

async function call(
  base: string,
  event: string,
  action: "hold" | "confirm",
  seat: string,
  holder: string,
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}/events/${event}/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ seat, holder }),
  });
  return { status: response.status, body: await response.json() };
}

async function seats(base: string, event: string): Promise<Seat[]> {
  const response = await fetch(`${base}/events/${event}/seats`);
  assert.equal(response.status, 200);
  return (await response.json()) as Seat[];
}

/** A copy of the template whose holds last `seconds`. */
async function withHoldSeconds(into: string, seconds: number): Promise<string> {
  return copyTemplate("reservations", into, {
    file: "wrangler.jsonc",
    replace: [`"HOLD_SECONDS": "60"`, `"HOLD_SECONDS": "${seconds}"`],
  });
}

describe("templates/reservations under stead start", () => {
  it("never double-books: one of many concurrent holds wins, and one of many confirms", async () => {
    using store = testStore();
    await using stead = await startStead("start", [RESERVATIONS, ...HOST], { store });
    const holders = Array.from({ length: 30 }, (_, i) => `holder-${i}`);
    const started = Date.now();
    const holds = await Promise.all(holders.map((h) => call(stead.url, "gala", "hold", "A1", h)));

    const won = holds.filter((r) => r.status === 200);
    assert.equal(won.length, 1, JSON.stringify(holds));
    const winner = won[0]!.body.seat.holder as string;
    assert.ok(holders.includes(winner));
    for (const lost of holds.filter((r) => r.status !== 200)) {
      assert.deepEqual(lost, { status: 409, body: { ok: false, error: "seat A1 is held" } });
    }
    const [held] = await seats(stead.url, "gala");
    assert.equal(held?.state, "held");
    assert.equal(held?.holder, winner);
    // Holds last HOLD_SECONDS (60 in the example).
    assert.ok(held!.expiresAt! >= started + 60_000 && held!.expiresAt! <= Date.now() + 60_000);

    // Several seats at once: each goes to exactly one of its contenders.
    const contested = ["B1", "B2", "B3", "B4", "B5"];
    const results = await Promise.all(
      contested.flatMap((seat) =>
        holders
          .slice(0, 6)
          .map(async (h) => ({ seat, ...(await call(stead.url, "gala", "hold", seat, h)) })),
      ),
    );
    for (const seat of contested) {
      const wins = results.filter((r) => r.seat === seat && r.status === 200);
      assert.equal(wins.length, 1, `${seat}: ${JSON.stringify(results)}`);
    }

    // Confirms race: the winner's repeated confirms and everyone else's; exactly one succeeds.
    const confirms = await Promise.all([
      ...Array.from({ length: 5 }, () => call(stead.url, "gala", "confirm", "A1", winner)),
      ...holders
        .filter((h) => h !== winner)
        .slice(0, 10)
        .map((h) => call(stead.url, "gala", "confirm", "A1", h)),
    ]);
    const confirmed = confirms.filter((r) => r.status === 200);
    assert.equal(confirmed.length, 1, JSON.stringify(confirms));
    assert.deepEqual(confirmed[0]!.body, {
      ok: true,
      seat: { seat: "A1", state: "confirmed", holder: winner, expiresAt: null },
    });
    for (const refused of confirms.filter((r) => r.status !== 200))
      assert.equal(refused.status, 409);

    const after = await seats(stead.url, "gala");
    assert.deepEqual(
      after.map((s) => [s.seat, s.state]),
      [["A1", "confirmed"], ...contested.map((seat) => [seat, "held"])],
    );
    assert.deepEqual(await call(stead.url, "gala", "hold", "A1", "late"), {
      status: 409,
      body: { ok: false, error: "seat A1 is confirmed" },
    });
    // Events are separate objects.
    assert.equal((await call(stead.url, "other", "hold", "A1", "late")).status, 200);

    const bad = await fetch(`${stead.url}/events/gala/hold`, { method: "POST", body: "nope" });
    assert.equal(bad.status, 400);
    assert.equal((await fetch(`${stead.url}/events/gala/hold`)).status, 405);
  });

  it("releases an unconfirmed hold by alarm once HOLD_SECONDS pass; confirmed seats stay", async () => {
    using work = tempDataDir();
    using store = testStore();
    const app = await withHoldSeconds(work.path, 1);
    await using stead = await startStead("start", [app, ...HOST], { store });

    const ann = await call(stead.url, "show", "hold", "A1", "ann");
    assert.equal(ann.status, 200);
    assert.equal((await call(stead.url, "show", "hold", "A2", "bob")).status, 200);
    assert.equal((await call(stead.url, "show", "confirm", "A2", "bob")).status, 200);
    const expiresAt = ann.body.seat.expiresAt as number;

    const remaining = await eventually("the hold on A1 to be released", async () => {
      const now = await seats(stead.url, "show");
      return now.some((s) => s.seat === "A1") ? undefined : now;
    });
    assert.ok(Date.now() >= expiresAt, "released no earlier than its expiry");
    assert.deepEqual(remaining, [
      { seat: "A2", state: "confirmed", holder: "bob", expiresAt: null },
    ]);
    // The seat is free again for anyone.
    assert.equal((await call(stead.url, "show", "hold", "A1", "carol")).status, 200);
  });

  it("releases holds after a restart: one due while running, one that fell due while stopped", async () => {
    using work = tempDataDir();
    using store = testStore();
    const app = await withHoldSeconds(work.path, 2);
    const args = [app, ...HOST];

    // A hold that is still running when the server comes back.
    let stead = await startStead("start", args, { store });
    const first = await call(stead.url, "tour", "hold", "A1", "ann");
    assert.equal(first.status, 200);
    assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });
    stead = await startStead("start", args, { store });
    try {
      const seatsNow = await seats(stead.url, "tour");
      if (Date.now() < first.body.seat.expiresAt) assert.equal(seatsNow[0]?.state, "held");
      await eventually("A1 to be released after the restart", async () =>
        (await seats(stead.url, "tour")).length === 0 ? true : undefined,
      );

      // A hold whose time passes while the server is down.
      const second = await call(stead.url, "tour", "hold", "B1", "bob");
      assert.equal(second.status, 200);
      assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });
      const dueIn = (second.body.seat.expiresAt as number) - Date.now();
      // Real time has to pass here: the alarm is due while no server runs.
      if (dueIn > 0) await new Promise((resolve) => setTimeout(resolve, dueIn + 50));
    } finally {
      await stead.stop("SIGKILL");
    }
    await using again = await startStead("start", args, { store });
    await eventually("B1 to be released by the overdue alarm", async () =>
      (await seats(again.url, "tour")).length === 0 ? true : undefined,
    );
  });
});
