import { DurableObject } from "cloudflare:workers";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as sync from "y-protocols/sync";
import * as Y from "yjs";
import type { Env } from "./index";
import { awarenessMessage, ownPresence, type Presence, removalMessage } from "./presence";
import { MESSAGE_AWARENESS, MESSAGE_SYNC, TEXT_NAME } from "./protocol";
import { UpdateLog } from "./update-log";

/** Larger messages close the socket: one update must fit in one SQLite row. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * One shared document. Every open editor holds a hibernatable WebSocket to it and speaks the
 * y-protocols sync protocol. Each update is stored as a row of SQLite in the turn it arrives and
 * then sent to the other editors, so an edit anyone has seen survives a crash: the output gate
 * holds those sends until the row is on disk.
 */
export class SharedDocument extends DurableObject<Env> {
  readonly #log: UpdateLog;
  #doc: Y.Doc | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const compactAfter = Number(env.COMPACT_AFTER_UPDATES);
    if (!Number.isInteger(compactAfter) || compactAfter < 1) {
      throw new Error(
        `COMPACT_AFTER_UPDATES must be a whole number of at least 1 (got ${JSON.stringify(env.COMPACT_AFTER_UPDATES)}); set it under "vars" in wrangler.jsonc.`,
      );
    }
    this.#log = new UpdateLog(ctx.storage.sql, compactAfter);
  }

  /** The document's current text. */
  async text(): Promise<string> {
    return this.#document().getText(TEXT_NAME).toString();
  }

  /** Accepts an editor's WebSocket (the Worker checked it is an upgrade). */
  async fetch(_request: Request): Promise<Response> {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    // Sync step 1 asks the editor for what it has that the document lacks (edits made offline);
    // the editor's own step 1 gets it the document.
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    sync.writeSyncStep1(encoder, this.#document());
    server.send(encoding.toUint8Array(encoder));
    const present = this.ctx
      .getWebSockets()
      .map((socket) => socket.deserializeAttachment() as Presence | null)
      .filter((entry): entry is Presence => entry !== null && entry.state !== null);
    if (present.length > 0) server.send(awarenessMessage(present));
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message === "string") {
      ws.close(1003, "Send binary y-protocols messages (sync or awareness)");
      return;
    }
    if (message.byteLength > MAX_MESSAGE_BYTES) {
      ws.close(1009, `Messages are limited to ${MAX_MESSAGE_BYTES} bytes`);
      return;
    }
    try {
      const decoder = decoding.createDecoder(new Uint8Array(message));
      const type = decoding.readVarUint(decoder);
      if (type === MESSAGE_SYNC) {
        const reply = encoding.createEncoder();
        encoding.writeVarUint(reply, MESSAGE_SYNC);
        // Updates are applied with the socket as the origin, so the broadcast skips the sender.
        sync.readSyncMessage(decoder, reply, this.#document(), ws, (error) => {
          throw error;
        });
        if (encoding.length(reply) > 1) ws.send(encoding.toUint8Array(reply));
      } else if (type === MESSAGE_AWARENESS) {
        const kept = ws.deserializeAttachment() as Presence | null;
        const own = ownPresence(decoding.readVarUint8Array(decoder), kept);
        if (own !== undefined) ws.serializeAttachment(own);
        this.#broadcast(new Uint8Array(message), ws);
      } else {
        ws.close(1003, `Unknown message type ${type}: expected sync (0) or awareness (1)`);
      }
    } catch (error) {
      // Yjs could not read the message, or storing it failed. The document is rebuilt from what
      // is stored, and the editor reconnects and syncs again.
      this.#doc = undefined;
      console.error("Closing an editor's socket: its message could not be applied:", error);
      ws.close(1007, "The message could not be read as a y-protocols message");
    }
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    ws.close(code === 1005 ? 1000 : code, reason);
    this.#left(ws);
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    this.#left(ws);
  }

  /** Tells the others that the editor on `ws` is gone, instead of letting them time it out. */
  #left(ws: WebSocket): void {
    const kept = ws.deserializeAttachment() as Presence | null;
    if (kept !== null) this.#broadcast(removalMessage(kept), ws);
  }

  /**
   * The Y.Doc, rebuilt from SQLite on first use after the object started or woke from
   * hibernation (an awareness message alone does not need it).
   */
  #document(): Y.Doc {
    if (this.#doc !== undefined) return this.#doc;
    const doc = new Y.Doc();
    const stored = this.#log.load();
    if (stored.length > 0) Y.applyUpdate(doc, Y.mergeUpdates(stored));
    // Registered after loading: what was loaded is stored already.
    doc.on("update", (update: Uint8Array, origin: unknown) => {
      this.#log.append(update, () => Y.encodeStateAsUpdate(doc));
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      sync.writeUpdate(encoder, update);
      this.#broadcast(encoding.toUint8Array(encoder), origin);
    });
    this.#doc = doc;
    return doc;
  }

  #broadcast(message: Uint8Array, except: unknown): void {
    for (const socket of this.ctx.getWebSockets()) {
      if (socket === except) continue;
      try {
        socket.send(message);
      } catch {
        // The socket is closing; its close event tells the others.
      }
    }
  }
}
