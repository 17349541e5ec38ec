import { DurableObject } from "cloudflare:workers";
import { delta, type Json, type JsonObject, mergePatch } from "./json";
import { parseFromDevice, type ToDevice } from "./protocol";
import type { CommandRequest } from "./validate";

export interface Env {
  DEVICES: DurableObjectNamespace<DeviceTwin>;
  COMMAND_TTL_SECONDS: string;
  MAX_PENDING_COMMANDS: string;
}

/** One side of the twin: the state, and how many times it was written. */
export interface StateDocument {
  state: JsonObject;
  /** 0 until first written, then one more per write. */
  version: number;
  updatedAt: number | null;
}

export interface Twin {
  desired: StateDocument;
  reported: StateDocument;
  /** What the device still has to change to match the desired state (see json.ts). */
  delta: JsonObject;
  connected: boolean;
  /** When the device last connected, reported or sent anything. */
  lastSeenAt: number | null;
  pendingCommands: number;
}

export interface Command {
  id: string;
  /** Queue order: commands reach the device in this order. */
  seq: number;
  name: string;
  payload: Json;
  createdAt: number;
  expiresAt: number;
  /** Times it was sent; it is sent again on every connect until the device acknowledges it. */
  deliveries: number;
}

export type Queued =
  | { ok: true; command: Command; delivered: boolean }
  | { ok: false; error: string };

interface CommandRow extends Record<string, SqlStorageValue> {
  id: string;
  seq: number;
  name: string;
  payload: string;
  created_at: number;
  expires_at: number;
  deliveries: number;
}

/** Close code for a device's older connection when it connects again. */
const REPLACED = 4000;

/**
 * One device's twin. Its storage holds both state documents and the command queue; its
 * WebSocket to the device is hibernatable, so an idle connection keeps nothing in memory and
 * every handler reads what it needs from SQLite. Events run one at a time, so a command queued
 * while the device connects is sent exactly once, after the ones already waiting.
 */
export class DeviceTwin extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS twin (
      side TEXT PRIMARY KEY CHECK (side IN ('desired', 'reported')),
      state TEXT NOT NULL,
      version INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS commands (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      payload TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      deliveries INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS commands_by_expiry ON commands (expires_at)`);
    // Keepalives are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  twin(): Twin {
    const desired = this.#document("desired");
    const reported = this.#document("reported");
    return {
      desired,
      reported,
      delta: delta(desired.state, reported.state),
      connected: this.#socket() !== undefined,
      lastSeenAt: this.ctx.storage.kv.get<number>("lastSeenAt") ?? null,
      pendingCommands: this.commands().length,
    };
  }

  /** The device reports (part of) its state: a merge patch onto what it reported before. */
  report(patch: JsonObject): Twin {
    this.#report(patch);
    return this.twin();
  }

  /** Operators set the desired state: replaced whole, or with `merge` patched. */
  setDesired(state: JsonObject, merge = false): Twin {
    const current = this.#document("desired").state;
    this.#write("desired", merge ? (mergePatch(current, state) as JsonObject) : state);
    const socket = this.#socket();
    if (socket !== undefined) send(socket, this.#desiredMessage());
    return this.twin();
  }

  /** Queues a command, and sends it at once if the device is connected. */
  async sendCommand(request: CommandRequest): Promise<Queued> {
    const now = Date.now();
    const pending = this.commands().length;
    const max = Number(this.env.MAX_PENDING_COMMANDS);
    if (pending >= max) {
      return {
        ok: false,
        error: `The device has ${pending} commands waiting, the most MAX_PENDING_COMMANDS allows; wait until it takes some, or cancel some`,
      };
    }
    const ttlSeconds = request.ttlSeconds ?? Number(this.env.COMMAND_TTL_SECONDS);
    const row = this.ctx.storage.sql
      .exec<CommandRow>(
        `INSERT INTO commands (id, name, payload, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
         RETURNING *`,
        crypto.randomUUID(),
        request.name,
        JSON.stringify(request.payload),
        now,
        now + ttlSeconds * 1000,
      )
      .one();
    await this.#armAlarm();
    const socket = this.#socket();
    if (socket !== undefined) this.#deliver(socket, row);
    return {
      ok: true,
      command: commandOf(this.#commandRow(row.id)!),
      delivered: socket !== undefined,
    };
  }

  /** The commands waiting for the device, in the order it will get them. */
  commands(): Command[] {
    return this.#pendingRows().map(commandOf);
  }

  /** Withdraws a command the device has not acknowledged; false if there is none by that id. */
  cancelCommand(id: string): boolean {
    return (
      this.ctx.storage.sql.exec("DELETE FROM commands WHERE id = ? RETURNING id", id).toArray()
        .length > 0
    );
  }

  /** The device connects: `GET /devices/<id>/connect` with `Upgrade: websocket`. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade") !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    // One connection per device: a device that reconnects before its old connection timed out
    // takes over, and the old one is closed.
    for (const old of this.ctx.getWebSockets())
      old.close(REPLACED, "replaced by a newer connection");
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    this.#seen();
    send(server, this.#desiredMessage());
    // Everything not yet acknowledged, oldest first: a command sent before a disconnect and
    // never acknowledged comes again.
    for (const row of this.#pendingRows()) this.#deliver(server, row);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.#seen();
    const parsed = parseFromDevice(message);
    if (!parsed.ok) {
      send(ws, { type: "error", error: parsed.error });
    } else if (parsed.value.type === "ack") {
      // An acknowledged command is done. The alarm may now be early; it re-arms when it runs.
      this.ctx.storage.sql.exec("DELETE FROM commands WHERE id = ?", parsed.value.id);
    } else {
      const reported = this.#report(parsed.value.state);
      const { state } = this.#document("desired");
      send(ws, {
        type: "reported",
        version: reported.version,
        delta: delta(state, reported.state),
      });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.#seen();
    // Completes the closing handshake; 1005/1006/1015 only describe a close and cannot be sent.
    ws.close([1005, 1006, 1015].includes(code) ? 1000 : code, reason);
  }

  /** Drops the commands whose time ran out, then waits for the next to. */
  override async alarm(): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM commands WHERE expires_at <= ?", Date.now());
    await this.#armAlarm();
  }

  #report(patch: JsonObject): StateDocument {
    this.#seen();
    const merged = mergePatch(this.#document("reported").state, patch) as JsonObject;
    return this.#write("reported", merged);
  }

  #document(side: "desired" | "reported"): StateDocument {
    const row = this.ctx.storage.sql
      .exec<{ state: string; version: number; updated_at: number }>(
        "SELECT state, version, updated_at FROM twin WHERE side = ?",
        side,
      )
      .toArray()[0];
    if (row === undefined) return { state: {}, version: 0, updatedAt: null };
    return { state: JSON.parse(row.state), version: row.version, updatedAt: row.updated_at };
  }

  #write(side: "desired" | "reported", state: JsonObject): StateDocument {
    const updatedAt = Date.now();
    const { version } = this.ctx.storage.sql
      .exec<{ version: number }>(
        `INSERT INTO twin (side, state, version, updated_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (side) DO UPDATE SET
           state = excluded.state, version = twin.version + 1, updated_at = excluded.updated_at
         RETURNING version`,
        side,
        JSON.stringify(state),
        updatedAt,
      )
      .one();
    return { state, version, updatedAt };
  }

  #desiredMessage(): ToDevice {
    const desired = this.#document("desired");
    const reported = this.#document("reported");
    return {
      type: "desired",
      state: desired.state,
      version: desired.version,
      delta: delta(desired.state, reported.state),
    };
  }

  /** Commands not yet acknowledged nor expired (the alarm may not have removed them yet). */
  #pendingRows(): CommandRow[] {
    return this.ctx.storage.sql
      .exec<CommandRow>("SELECT * FROM commands WHERE expires_at > ? ORDER BY seq", Date.now())
      .toArray();
  }

  #commandRow(id: string): CommandRow | undefined {
    return this.ctx.storage.sql
      .exec<CommandRow>("SELECT * FROM commands WHERE id = ?", id)
      .toArray()[0];
  }

  #deliver(ws: WebSocket, row: CommandRow): void {
    this.ctx.storage.sql.exec(
      "UPDATE commands SET deliveries = deliveries + 1 WHERE seq = ?",
      row.seq,
    );
    send(ws, {
      type: "command",
      id: row.id,
      name: row.name,
      payload: JSON.parse(row.payload),
      expiresAt: row.expires_at,
    });
  }

  /** The device's open connection, if it has one. */
  #socket(): WebSocket | undefined {
    return this.ctx.getWebSockets().find((ws) => ws.readyState === WebSocket.OPEN);
  }

  #seen(): void {
    this.ctx.storage.kv.put("lastSeenAt", Date.now());
  }

  /** Points the alarm at the next command to expire, or clears it. */
  async #armAlarm(): Promise<void> {
    const { next } = this.ctx.storage.sql
      .exec<{ next: number | null }>("SELECT min(expires_at) AS next FROM commands")
      .one();
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }
}

function commandOf(row: CommandRow): Command {
  return {
    id: row.id,
    seq: row.seq,
    name: row.name,
    payload: JSON.parse(row.payload),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    deliveries: row.deliveries,
  };
}

function send(ws: WebSocket, message: ToDevice): void {
  ws.send(JSON.stringify(message));
}
