import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import {
  type Awareness,
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates,
} from "y-protocols/awareness";
import * as sync from "y-protocols/sync";
import type * as Y from "yjs";
import { MESSAGE_AWARENESS, MESSAGE_SYNC } from "../src/protocol";

/** "synced" once the document's state arrived over the current socket. */
export type ConnectionStatus = "connecting" | "synced" | "offline";

const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5000;

/**
 * Keeps `doc` and `awareness` in sync with the document's object over a WebSocket to `url`, and
 * reconnects when it drops (a restart, a network change). Edits made while offline stay in `doc`
 * and reach the object when the next socket syncs.
 */
export class DocumentConnection {
  readonly #url: string;
  readonly #doc: Y.Doc;
  readonly #awareness: Awareness;
  readonly #onStatus: (status: ConnectionStatus) => void;
  #socket: WebSocket | undefined;
  #retryMs = RETRY_FIRST_MS;

  constructor(
    url: string,
    doc: Y.Doc,
    awareness: Awareness,
    onStatus: (status: ConnectionStatus) => void,
  ) {
    this.#url = url;
    this.#doc = doc;
    this.#awareness = awareness;
    this.#onStatus = onStatus;
    doc.on("update", (update: Uint8Array, origin: unknown) => {
      if (origin !== this) this.#send(syncMessage((encoder) => sync.writeUpdate(encoder, update)));
    });
    awareness.on("update", (changes: AwarenessChanges, origin: unknown) => {
      if (origin !== "local") return;
      const clients = [...changes.added, ...changes.updated, ...changes.removed];
      this.#send(awarenessMessage(encodeAwarenessUpdate(awareness, clients)));
    });
    // Leaving: the others drop this editor from their list now rather than after a timeout.
    addEventListener("pagehide", () => removeAwarenessStates(awareness, [doc.clientID], "local"));
    this.#connect();
  }

  #connect(): void {
    this.#onStatus("connecting");
    const socket = new WebSocket(this.#url);
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    socket.onopen = () => {
      this.#send(syncMessage((encoder) => sync.writeSyncStep1(encoder, this.#doc)));
      if (this.#awareness.getLocalState() !== null) {
        this.#send(awarenessMessage(encodeAwarenessUpdate(this.#awareness, [this.#doc.clientID])));
      }
    };
    socket.onmessage = (event: MessageEvent<ArrayBuffer>) => {
      this.#receive(new Uint8Array(event.data));
    };
    socket.onclose = () => {
      this.#socket = undefined;
      // Who else is here is unknown until the next socket is told again.
      const others = [...this.#awareness.getStates().keys()].filter(
        (id) => id !== this.#doc.clientID,
      );
      removeAwarenessStates(this.#awareness, others, this);
      this.#onStatus("offline");
      setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    };
  }

  #receive(message: Uint8Array): void {
    const decoder = decoding.createDecoder(message);
    const type = decoding.readVarUint(decoder);
    if (type === MESSAGE_SYNC) {
      const reply = encoding.createEncoder();
      encoding.writeVarUint(reply, MESSAGE_SYNC);
      const kind = sync.readSyncMessage(decoder, reply, this.#doc, this);
      if (encoding.length(reply) > 1) this.#send(encoding.toUint8Array(reply));
      if (kind === sync.messageYjsSyncStep2) {
        this.#retryMs = RETRY_FIRST_MS;
        this.#onStatus("synced");
      }
    } else if (type === MESSAGE_AWARENESS) {
      applyAwarenessUpdate(this.#awareness, decoding.readVarUint8Array(decoder), this);
    }
  }

  #send(message: Uint8Array): void {
    // lib0 types its buffers as possibly shared; they are plain ArrayBuffers.
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(message as BufferSource);
  }
}

interface AwarenessChanges {
  added: number[];
  updated: number[];
  removed: number[];
}

function syncMessage(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  write(encoder);
  return encoding.toUint8Array(encoder);
}

function awarenessMessage(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(encoder, update);
  return encoding.toUint8Array(encoder);
}
