// The benchmark app, written once as for Cloudflare. Stead runs this file as it is (via
// bench/app/wrangler.jsonc); for workerd the harness strips the types (erasable syntax only)
// and embeds the result in a generated config. Keep it one self-contained module.
import { DurableObject } from "cloudflare:workers";

type DurableObjectNamespace<T> = import("stead").DurableObjectNamespace<T>;
type D1Database = import("stead").D1Database;

interface Env {
  COUNTER: DurableObjectNamespace<Counter>;
  LOG: DurableObjectNamespace<Log>;
  ECHO: DurableObjectNamespace<Echo>;
  ROOM: DurableObjectNamespace<Room>;
  /** The static assets (public/): Stead serves them before the Worker; workerd through here. */
  ASSETS: { fetch(request: Request): Promise<Response> };
  /** Workload 8: a D1 database. */
  DB: D1Database;
}

/** Workloads 1, 2 and 6: a KV read-modify-write per call. */
export class Counter extends DurableObject<Env> {
  async increment(): Promise<number> {
    const value = ((await this.ctx.storage.get<number>("value")) ?? 0) + 1;
    await this.ctx.storage.put("value", value);
    return value;
  }
}

type Row = { id: number; body: string; at: number };

/** Workload 3: insert a row, read back the last ten. */
export class Log extends DurableObject<Env> {
  constructor(ctx: ConstructorParameters<typeof DurableObject>[0], env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, at INTEGER NOT NULL)",
    );
  }

  async append(body: string): Promise<Row[]> {
    const sql = this.ctx.storage.sql;
    sql.exec("INSERT INTO entries (body, at) VALUES (?, ?)", body, Date.now());
    return sql.exec<Row>("SELECT id, body, at FROM entries ORDER BY id DESC LIMIT 10").toArray();
  }
}

/** Workload 4: the object's own fetch handler answers a small JSON body. */
export class Echo extends DurableObject<Env> {
  #served = 0;

  async fetch(request: Request): Promise<Response> {
    this.#served++;
    return Response.json({ ok: true, path: new URL(request.url).pathname, served: this.#served });
  }
}

/** Workload 5: one room of hibernatable WebSockets; every message goes to every member. */
export class Room extends DurableObject<Env> {
  async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade") !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server!);
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(_ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(message);
      } catch {
        // The socket is closing; its close event removes it.
      }
    }
  }

  async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    ws.close(code === 1005 ? 1000 : code, "bye");
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/w1") return text(await env.COUNTER.getByName("hot").increment());
    if (path.startsWith("/w2/")) {
      return text(await env.COUNTER.getByName(`spread-${path.slice(4)}`).increment());
    }
    if (path === "/w3") return Response.json(await env.LOG.getByName("log").append("hello"));
    if (path === "/w4") return env.ECHO.getByName("echo").fetch(request);
    if (path === "/w5") return env.ROOM.getByName("room").fetch(request);
    if (path.startsWith("/w6/")) {
      return text(await env.COUNTER.getByName(`cold-${path.slice(4)}`).increment());
    }
    if (path === "/w8") {
      const { meta } = await env.DB.prepare("INSERT INTO items (value) VALUES (?)")
        .bind(Math.floor(Math.random() * 1_000_000))
        .run();
      return Response.json({ changes: meta.changes, last_row_id: meta.last_row_id });
    }
    if (path === "/w8/setup" && request.method === "POST") {
      await env.DB.prepare(
        "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)",
      ).run();
      return new Response(null, { status: 204 });
    }
    if (path === "/health") return new Response("ok");
    if (path.startsWith("/static/")) return env.ASSETS.fetch(request);
    return new Response("Not found", { status: 404 });
  },
};

function text(value: number): Response {
  return new Response(String(value));
}
