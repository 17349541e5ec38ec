import { DurableObject } from "cloudflare:workers";
import { PAGE } from "./page";

interface Env {
  ROOMS: DurableObjectNamespace<ChatRoom>;
  LIMITERS: DurableObjectNamespace<RateLimiter>;
  /** Messages one client address may send per window (vars in wrangler.jsonc). */
  RATE_LIMIT: string;
  RATE_WINDOW_SECONDS: string;
}

interface ChatMessage {
  id: number;
  name: string;
  text: string;
  sentAt: number;
}

/**
 * What a room sends to its sockets, as JSON. Clients send `{"text": "..."}`, and may send
 * `ping` to get `pong` (a keepalive answered without waking the room).
 */
type RoomEvent =
  | { type: "history"; messages: ChatMessage[] }
  | { type: "message"; message: ChatMessage }
  | { type: "joined"; name: string }
  | { type: "left"; name: string }
  | { type: "error"; error: string };

/** What each socket carries through hibernation (at most 2 KB once serialized). */
interface Member {
  name: string;
  ip: string;
}

/** A room keeps its last HISTORY messages: what a newcomer is shown, and all it stores. */
const HISTORY = 100;
const MAX_NAME = 32;
const MAX_TEXT = 1000;

/**
 * One chat room per room name. The room accepts its sockets with the hibernation API, so an
 * idle room leaves memory while its members stay connected: each event (a message, a close)
 * runs the constructor again if needed, and a socket's member is read from its attachment
 * rather than from a field of the instance.
 */
export class ChatRoom extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS messages (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL,
      text TEXT NOT NULL,
      sent_at INTEGER NOT NULL
    )`);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** Joins a WebSocket upgrade to the room as `?name=`, sending it the history first. */
  async fetch(request: Request): Promise<Response> {
    const name = (new URL(request.url).searchParams.get("name") ?? "").trim();
    if (name === "" || name.length > MAX_NAME || /\p{Cc}/u.test(name)) {
      return new Response(
        `Pass your name as ?name=ann: 1 to ${MAX_NAME} characters, no control characters.\n`,
        { status: 400 },
      );
    }
    // Set by Cloudflare, and by `stead start` from the connection (a client cannot choose it).
    // Requests made in-process without it share the one limit of "unknown".
    const ip = request.headers.get("CF-Connecting-IP") ?? "unknown";
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ name, ip } satisfies Member);
    send(server, { type: "history", messages: this.history() });
    this.broadcast({ type: "joined", name });
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const member = ws.deserializeAttachment() as Member;
    const text = readText(message);
    if (typeof text !== "string") return send(ws, { type: "error", error: text.error });

    // The limiter is another object: while this call is out, the room takes other events. The
    // order everyone sees is the order messages are stored in, below.
    const wait = await this.env.LIMITERS.getByName(member.ip).take();
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      return send(ws, {
        type: "error",
        error: `You are sending too fast; wait ${seconds} second${seconds === 1 ? "" : "s"}.`,
      });
    }
    const sentAt = Date.now();
    const { id } = this.ctx.storage.sql
      .exec<{ id: number }>(
        "INSERT INTO messages (name, text, sent_at) VALUES (?, ?, ?) RETURNING id",
        member.name,
        text,
        sentAt,
      )
      .one();
    this.ctx.storage.sql.exec("DELETE FROM messages WHERE id <= ?", id - HISTORY);
    // Sent after the write: Durable Objects hold these sends until the message is stored.
    this.broadcast({ type: "message", message: { id, name: member.name, text, sentAt } });
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const member = ws.deserializeAttachment() as Member;
    // Answer the client's close (a no-op where the runtime already did, as it does from
    // compatibility date 2026-04-07). 1005 and 1006 say "no code" and "connection lost": they
    // are reserved and cannot be sent back.
    ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    this.broadcast({ type: "left", name: member.name });
  }

  private history(): ChatMessage[] {
    return this.ctx.storage.sql
      .exec<{ id: number; name: string; text: string; sent_at: number }>(
        "SELECT id, name, text, sent_at FROM messages ORDER BY id DESC LIMIT ?",
        HISTORY,
      )
      .toArray()
      .reverse()
      .map((row) => ({ id: row.id, name: row.name, text: row.text, sentAt: row.sent_at }));
  }

  private broadcast(event: RoomEvent): void {
    for (const socket of this.ctx.getWebSockets()) send(socket, event);
  }
}

function send(socket: WebSocket, event: RoomEvent): void {
  try {
    socket.send(JSON.stringify(event));
  } catch {
    // The socket is closing; webSocketClose announces that its member left.
  }
}

/** The text of a `{"text": "..."}` message, or what is wrong with it. */
function readText(message: string | ArrayBuffer): string | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message));
  } catch {
    parsed = undefined;
  }
  const text = (parsed as { text?: unknown } | undefined)?.text;
  if (typeof text !== "string" || text.trim() === "") {
    return { error: 'Send JSON like {"text": "hello"}' };
  }
  if (text.length > MAX_TEXT) {
    return { error: `Messages are at most ${MAX_TEXT} characters; this one has ${text.length}.` };
  }
  return text.trim();
}

/**
 * A fixed-window rate limiter, one object per client address: at most RATE_LIMIT messages per
 * RATE_WINDOW_SECONDS. Its alarm deletes the count once the window is over, so the limiter
 * keeps no data for an address that stopped sending.
 */
export class RateLimiter extends DurableObject<Env> {
  /** Counts one message. Resolves to 0 if it may go out, or to the milliseconds left to wait. */
  async take(): Promise<number> {
    const limit = positive(this.env.RATE_LIMIT, "RATE_LIMIT");
    const windowMs = positive(this.env.RATE_WINDOW_SECONDS, "RATE_WINDOW_SECONDS") * 1000;
    const now = Date.now();
    let window = await this.ctx.storage.get<{ start: number; count: number }>("window");
    if (window === undefined || now >= window.start + windowMs) {
      window = { start: now, count: 0 };
      await this.ctx.storage.setAlarm(now + windowMs);
    }
    if (window.count >= limit) return window.start + windowMs - now;
    await this.ctx.storage.put("window", { start: window.start, count: window.count + 1 });
    return 0;
  }

  async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}

/** A positive number from a var, or an error naming the var to fix. */
function positive(value: string, name: string): number {
  const parsed = Number(value);
  if (!(parsed > 0)) {
    throw new Error(
      `${name} must be a positive number, like "10", but is ${JSON.stringify(value)}. Set it under "vars" in wrangler.jsonc.`,
    );
  }
  return parsed;
}

const ROOM_PATH = /^\/rooms\/([^/]+)\/ws$/;
const ROOM_NAME = /^[\w-]{1,64}$/;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const room = ROOM_PATH.exec(url.pathname)?.[1];
    if (room !== undefined) {
      if (!ROOM_NAME.test(room)) {
        return new Response("Room names are 1 to 64 letters, digits, '-' or '_'.\n", {
          status: 400,
        });
      }
      if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
        return new Response(`Connect a WebSocket to ws://${url.host}${url.pathname}?name=ann\n`, {
          status: 426,
          headers: { Upgrade: "websocket" },
        });
      }
      return env.ROOMS.getByName(room).fetch(request);
    }
    if (url.pathname === "/") {
      return new Response(PAGE, { headers: { "Content-Type": "text/html; charset=utf-8" } });
    }
    return new Response("Not found. Open / for the chat page, or connect to /rooms/<room>/ws.\n", {
      status: 404,
    });
  },
} satisfies ExportedHandler<Env>;
