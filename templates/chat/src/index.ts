import { DurableObject } from "cloudflare:workers";
import { PAGE } from "./page";

export interface Env {
  ROOMS: DurableObjectNamespace<ChatRoom>;
  LIMITERS: DurableObjectNamespace<RateLimiter>;
  RATE_LIMIT: string;
  RATE_WINDOW_SECONDS: string;
}

interface Member {
  name: string;
  ip: string;
}

interface ChatMessage {
  id: number;
  name: string;
  text: string;
  sentAt: number;
}

const HISTORY = 100;

/** One chat room. Sockets hibernate between messages; members are kept as attachments. */
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

  async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade") !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    const url = new URL(request.url);
    const name = (url.searchParams.get("name") ?? "").trim().slice(0, 32) || "anonymous";
    const ip = request.headers.get("CF-Connecting-IP") ?? "unknown";
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ name, ip } satisfies Member);
    server.send(JSON.stringify({ type: "history", messages: this.history() }));
    this.broadcast({ type: "joined", name });
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const member = ws.deserializeAttachment() as Member;
    let text: string;
    try {
      text = String(
        JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message))
          .text ?? "",
      );
    } catch {
      ws.send(JSON.stringify({ type: "error", error: 'Send JSON like {"text": "hello"}' }));
      return;
    }
    text = text.trim().slice(0, 1000);
    if (text === "") return;
    const allowed = await this.env.LIMITERS.getByName(member.ip).allow();
    if (!allowed) {
      ws.send(
        JSON.stringify({ type: "error", error: "You are sending too fast; wait a few seconds." }),
      );
      return;
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
    this.broadcast({ type: "message", message: { id, name: member.name, text, sentAt } });
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const member = ws.deserializeAttachment() as Member;
    ws.close(code === 1005 ? 1000 : code, reason);
    this.broadcast({ type: "left", name: member.name });
  }

  private history(): ChatMessage[] {
    const rows = this.ctx.storage.sql
      .exec<{ id: number; name: string; text: string; sent_at: number }>(
        "SELECT * FROM (SELECT * FROM messages ORDER BY id DESC LIMIT ?) ORDER BY id",
        HISTORY,
      )
      .toArray();
    return rows.map((row) => ({ id: row.id, name: row.name, text: row.text, sentAt: row.sent_at }));
  }

  private broadcast(event: unknown): void {
    const data = JSON.stringify(event);
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(data);
      } catch {
        // The socket is closing; its close event removes it.
      }
    }
  }
}

/** A fixed-window rate limiter, one object per IP address. */
export class RateLimiter extends DurableObject<Env> {
  async allow(): Promise<boolean> {
    const limit = Number(this.env.RATE_LIMIT);
    const windowMs = Number(this.env.RATE_WINDOW_SECONDS) * 1000;
    const now = Date.now();
    const window = (await this.ctx.storage.get<{ start: number; count: number }>("window")) ?? {
      start: now,
      count: 0,
    };
    const current = now - window.start >= windowMs ? { start: now, count: 0 } : window;
    if (current.count >= limit) return false;
    await this.ctx.storage.put("window", { start: current.start, count: current.count + 1 });
    return true;
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const match = /^\/rooms\/([\w-]{1,64})\/ws$/.exec(url.pathname);
    if (match) return env.ROOMS.getByName(match[1]!).fetch(request);
    if (url.pathname === "/") {
      return new Response(PAGE, { headers: { "Content-Type": "text/html; charset=utf-8" } });
    }
    return new Response("Not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
