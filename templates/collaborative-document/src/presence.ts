// Awareness ("who is here") as the object relays it. The object keeps no awareness state of its
// own: it passes each client's updates on to the others, and remembers each socket's latest entry
// in the socket's attachment (which survives hibernation), to introduce newcomers to the people
// already there and to tell everyone when someone's socket closes.
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { MESSAGE_AWARENESS } from "./protocol";

/** One client's awareness entry: y-protocols' client id, clock and state (JSON text). */
export interface Presence {
  clientID: number;
  clock: number;
  /** The state as JSON, "null" once the client said it left; null when too big to keep. */
  state: string | null;
}

/** States longer than this are relayed but not kept: attachments are small. */
const MAX_KEPT_STATE = 512;

/**
 * The entry of the client on this socket in `update` (an awareness update's payload), given the
 * one kept so far: a socket carries one Y.Doc, whose id comes first and never changes.
 */
export function ownPresence(update: Uint8Array, kept: Presence | null): Presence | undefined {
  const decoder = decoding.createDecoder(update);
  const count = decoding.readVarUint(decoder);
  for (let i = 0; i < count; i++) {
    const clientID = decoding.readVarUint(decoder);
    const clock = decoding.readVarUint(decoder);
    const state = decoding.readVarString(decoder);
    if (kept === null || kept.clientID === clientID) {
      return { clientID, clock, state: state.length <= MAX_KEPT_STATE ? state : null };
    }
  }
  return undefined;
}

/** An awareness message setting `entries`, as y-protocols' encodeAwarenessUpdate writes it. */
export function awarenessMessage(entries: readonly Presence[]): Uint8Array {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, entries.length);
  for (const entry of entries) {
    encoding.writeVarUint(update, entry.clientID);
    encoding.writeVarUint(update, entry.clock);
    encoding.writeVarString(update, entry.state ?? "null");
  }
  const message = encoding.createEncoder();
  encoding.writeVarUint(message, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(message, encoding.toUint8Array(update));
  return encoding.toUint8Array(message);
}

/**
 * A message removing `entry`: state null at the same clock, which y-protocols' clients accept
 * for a state they hold (so they drop it now instead of after their 30 s timeout).
 */
export function removalMessage(entry: Presence): Uint8Array {
  return awarenessMessage([{ ...entry, state: "null" }]);
}
