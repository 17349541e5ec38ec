import { DurableObject } from "cloudflare:workers";

interface Env {
  EVENTS: DurableObjectNamespace<Event>;
  HOLD_SECONDS: string;
}

type SeatState = "free" | "held" | "confirmed";

interface Seat {
  seat: string;
  state: SeatState;
  holder: string | null;
  expiresAt: number | null;
}

type Outcome = { ok: true; seat: Seat } | { ok: false; error: string };

/**
 * One event's seats. A hold reserves a seat for HOLD_SECONDS; the alarm releases holds that
 * were not confirmed in time. Each request runs alone against the object's storage, so two
 * people can never hold or confirm the same seat.
 */
export class Event extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS seats (
      seat TEXT PRIMARY KEY,
      state TEXT NOT NULL CHECK (state IN ('held', 'confirmed')),
      holder TEXT NOT NULL,
      expires_at INTEGER
    )`);
  }

  async hold(seat: string, holder: string): Promise<Outcome> {
    const current = this.seat(seat);
    if (current.state === "confirmed" || (current.state === "held" && current.holder !== holder)) {
      return { ok: false, error: `seat ${seat} is ${current.state}` };
    }
    const expiresAt = Date.now() + Number(this.env.HOLD_SECONDS) * 1000;
    this.ctx.storage.sql.exec(
      "INSERT INTO seats (seat, state, holder, expires_at) VALUES (?, 'held', ?, ?) ON CONFLICT (seat) DO UPDATE SET state = 'held', holder = excluded.holder, expires_at = excluded.expires_at",
      seat,
      holder,
      expiresAt,
    );
    await this.armAlarm();
    return { ok: true, seat: this.seat(seat) };
  }

  async confirm(seat: string, holder: string): Promise<Outcome> {
    const current = this.seat(seat);
    if (current.state !== "held" || current.holder !== holder) {
      return { ok: false, error: `seat ${seat} is not held by ${holder}` };
    }
    this.ctx.storage.sql.exec(
      "UPDATE seats SET state = 'confirmed', expires_at = NULL WHERE seat = ?",
      seat,
    );
    await this.armAlarm();
    return { ok: true, seat: this.seat(seat) };
  }

  seats(): Seat[] {
    return this.ctx.storage.sql
      .exec<{ seat: string; state: SeatState; holder: string; expires_at: number | null }>(
        "SELECT * FROM seats ORDER BY seat",
      )
      .toArray()
      .map((row) => ({
        seat: row.seat,
        state: row.state,
        holder: row.holder,
        expiresAt: row.expires_at,
      }));
  }

  async alarm(): Promise<void> {
    this.ctx.storage.sql.exec(
      "DELETE FROM seats WHERE state = 'held' AND expires_at <= ?",
      Date.now(),
    );
    await this.armAlarm();
  }

  private seat(seat: string): Seat {
    const row = this.ctx.storage.sql
      .exec<{ state: SeatState; holder: string; expires_at: number | null }>(
        "SELECT * FROM seats WHERE seat = ?",
        seat,
      )
      .toArray()[0];
    if (row === undefined) return { seat, state: "free", holder: null, expiresAt: null };
    return { seat, state: row.state, holder: row.holder, expiresAt: row.expires_at };
  }

  /** Points the alarm at the earliest hold to expire, or clears it. */
  private async armAlarm(): Promise<void> {
    const { next } = this.ctx.storage.sql
      .exec<{ next: number | null }>(
        "SELECT min(expires_at) AS next FROM seats WHERE state = 'held'",
      )
      .one();
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const match = /^\/events\/([\w-]{1,64})\/(seats|hold|confirm)$/.exec(url.pathname);
    if (!match) return new Response("Not found", { status: 404 });
    const event = env.EVENTS.getByName(match[1]!);
    if (match[2] === "seats") return Response.json(await event.seats());
    if (request.method !== "POST") return new Response("Use POST", { status: 405 });
    const body = (await request.json().catch(() => null)) as {
      seat?: unknown;
      holder?: unknown;
    } | null;
    if (typeof body?.seat !== "string" || typeof body.holder !== "string") {
      return Response.json(
        { ok: false, error: 'send JSON like {"seat": "A1", "holder": "ann"}' },
        { status: 400 },
      );
    }
    const outcome =
      match[2] === "hold"
        ? await event.hold(body.seat, body.holder)
        : await event.confirm(body.seat, body.holder);
    return Response.json(outcome, { status: outcome.ok ? 200 : 409 });
  },
} satisfies ExportedHandler<Env>;
