import { DurableObject } from "cloudflare:workers";

interface Env {
  EVENTS: DurableObjectNamespace<EventSeats>;
  /** How long a hold lasts unless confirmed, in seconds (a var in wrangler.jsonc). */
  HOLD_SECONDS: string;
}

type SeatState = "free" | "held" | "confirmed";

/** A seat as the API shows it. `expiresAt` (epoch ms) is set while the seat is held. */
interface Seat {
  seat: string;
  state: SeatState;
  holder: string | null;
  expiresAt: number | null;
}

/** What `hold`, `confirm` and `release` answer: the seat, or why the seat could not change. */
type Outcome = { ok: true; seat: Seat } | { ok: false; error: string };

/** A row of the `seats` table: a type, not an interface, as `sql.exec<T>` wants one. */
type SeatRow = {
  seat: string;
  state: "held" | "confirmed";
  holder: string;
  expires_at: number | null;
};

/**
 * The seats of one event (one object per event name). A hold reserves a seat for HOLD_SECONDS;
 * the holder confirms it in that time, or the object's alarm releases it.
 *
 * The object runs one call at a time, and each call reads and writes its SQLite database without
 * awaiting anything else in between, so two holds on one seat can never both see it free: no
 * locks, no transactions to retry.
 */
export class EventSeats extends DurableObject<Env> {
  private readonly holdMs: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.holdMs = seconds(env.HOLD_SECONDS, "HOLD_SECONDS") * 1000;
    // Free seats have no row: a row is a hold (with its expiry) or a confirmed booking.
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS seats (
      seat TEXT PRIMARY KEY,
      state TEXT NOT NULL CHECK (state IN ('held', 'confirmed')),
      holder TEXT NOT NULL,
      expires_at INTEGER
    )`);
  }

  /** Holds a free seat for `holder`; holding a seat you already hold extends the hold. */
  async hold(seat: string, holder: string): Promise<Outcome> {
    const current = this.seat(seat);
    if (current.state === "confirmed" || (current.state === "held" && current.holder !== holder)) {
      return { ok: false, error: `seat ${seat} is ${current.state}` };
    }
    this.ctx.storage.sql.exec(
      `INSERT INTO seats (seat, state, holder, expires_at) VALUES (?, 'held', ?, ?)
       ON CONFLICT (seat) DO UPDATE
       SET state = 'held', holder = excluded.holder, expires_at = excluded.expires_at`,
      seat,
      holder,
      Date.now() + this.holdMs,
    );
    await this.scheduleRelease();
    return { ok: true, seat: this.seat(seat) };
  }

  /** Books a seat for good; only its holder can, and only while the hold lasts. */
  async confirm(seat: string, holder: string): Promise<Outcome> {
    const current = this.seat(seat);
    if (current.state !== "held" || current.holder !== holder) {
      return { ok: false, error: `seat ${seat} is not held by ${holder}` };
    }
    this.ctx.storage.sql.exec(
      "UPDATE seats SET state = 'confirmed', expires_at = NULL WHERE seat = ?",
      seat,
    );
    await this.scheduleRelease();
    return { ok: true, seat: this.seat(seat) };
  }

  /** Gives a held seat back before its hold runs out. Confirmed seats stay booked. */
  async release(seat: string, holder: string): Promise<Outcome> {
    const current = this.seat(seat);
    if (current.state !== "held" || current.holder !== holder) {
      return { ok: false, error: `seat ${seat} is not held by ${holder}` };
    }
    this.ctx.storage.sql.exec("DELETE FROM seats WHERE seat = ?", seat);
    await this.scheduleRelease();
    return { ok: true, seat: this.seat(seat) };
  }

  /** Every held or confirmed seat, by label; seats not listed are free. */
  seats(): Seat[] {
    return this.ctx.storage.sql
      .exec<SeatRow>(
        `SELECT seat, state, holder, expires_at FROM seats
         WHERE state = 'confirmed' OR expires_at > ? ORDER BY seat`,
        Date.now(),
      )
      .toArray()
      .map(toSeat);
  }

  /** Runs when the earliest hold expires: releases every hold whose time is up. */
  async alarm(): Promise<void> {
    this.ctx.storage.sql.exec(
      "DELETE FROM seats WHERE state = 'held' AND expires_at <= ?",
      Date.now(),
    );
    await this.scheduleRelease();
  }

  /**
   * The seat as it stands now. A hold past its expiry counts as free even before the alarm has
   * deleted it: alarms run at least once but may run late (after a restart, say), and a late
   * alarm must not let a lapsed hold keep others out or be confirmed.
   */
  private seat(seat: string): Seat {
    const row = this.ctx.storage.sql
      .exec<SeatRow>("SELECT seat, state, holder, expires_at FROM seats WHERE seat = ?", seat)
      .toArray()[0];
    if (row === undefined || (row.state === "held" && row.expires_at! <= Date.now())) {
      return { seat, state: "free", holder: null, expiresAt: null };
    }
    return toSeat(row);
  }

  /**
   * Points the object's one alarm at the earliest hold to expire, or clears it when nothing is
   * held. Called after every change, so the alarm always matches what is stored.
   */
  private async scheduleRelease(): Promise<void> {
    const { next } = this.ctx.storage.sql
      .exec<{ next: number | null }>(
        "SELECT min(expires_at) AS next FROM seats WHERE state = 'held'",
      )
      .one();
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }
}

function toSeat(row: SeatRow): Seat {
  return { seat: row.seat, state: row.state, holder: row.holder, expiresAt: row.expires_at };
}

/** A positive number of seconds from a var, or an error naming the var to fix. */
function seconds(value: string, name: string): number {
  const parsed = Number(value);
  if (!(parsed > 0)) {
    throw new Error(
      `${name} must be a positive number of seconds, like "60", but is ${JSON.stringify(value)}. Set it under "vars" in wrangler.jsonc.`,
    );
  }
  return parsed;
}

const ROUTE = /^\/events\/([^/]+)\/(seats|hold|confirm|release)$/;
const EVENT_NAME = /^[\w-]{1,64}$/;
const SEAT_LABEL = /^[A-Za-z0-9-]{1,16}$/;
const MAX_HOLDER = 64;

const USAGE = `GET /events/<event>/seats lists held and confirmed seats; POST /events/<event>/hold, /confirm or /release with {"seat": "A1", "holder": "ann"} changes one`;

function problem(status: number, error: string, headers?: HeadersInit): Response {
  return Response.json({ ok: false, error }, { status, headers });
}

/**
 * Reads `{ "seat": "A1", "holder": "ann" }`, or says what is wrong with the body. In a real
 * app the holder comes from the signed-in user (a session or an access token), not the body.
 */
async function readSeatRequest(
  request: Request,
): Promise<{ seat: string; holder: string } | { error: string }> {
  const body: unknown = await request.json().catch(() => undefined);
  if (typeof body !== "object" || body === null) {
    return { error: 'send a JSON body like {"seat": "A1", "holder": "ann"}' };
  }
  const { seat, holder } = body as { seat?: unknown; holder?: unknown };
  if (typeof seat !== "string" || !SEAT_LABEL.test(seat)) {
    return { error: `"seat" must be 1 to 16 letters, digits or dashes, like "A1"` };
  }
  if (typeof holder !== "string" || holder.trim() === "" || holder.length > MAX_HOLDER) {
    return { error: `"holder" must be a non-blank string of at most ${MAX_HOLDER} characters` };
  }
  return { seat, holder };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const match = ROUTE.exec(new URL(request.url).pathname);
    if (match === null) return problem(404, `Not found. ${USAGE}.`);
    const [, eventName, action] = match as unknown as [string, string, string];
    if (!EVENT_NAME.test(eventName)) {
      return problem(400, "event names are 1 to 64 letters, digits, '-' or '_'");
    }
    const event = env.EVENTS.getByName(eventName);

    if (action === "seats") {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return problem(405, `use GET to list seats`, { Allow: "GET, HEAD" });
      }
      return Response.json(await event.seats());
    }
    if (request.method !== "POST") {
      return problem(405, `use POST to ${action} a seat`, { Allow: "POST" });
    }
    const input = await readSeatRequest(request);
    if ("error" in input) return problem(400, input.error);
    const outcome =
      action === "hold"
        ? await event.hold(input.seat, input.holder)
        : action === "confirm"
          ? await event.confirm(input.seat, input.holder)
          : await event.release(input.seat, input.holder);
    // 409 Conflict: the request was fine, but the seat is not in a state that allows it.
    return Response.json(outcome, { status: outcome.ok ? 200 : 409 });
  },
} satisfies ExportedHandler<Env>;
