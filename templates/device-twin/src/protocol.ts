// The WebSocket protocol between a device and its twin: JSON text messages with a `type`.
import type { Json, JsonObject } from "./json";
import { type Checked, checkDocument } from "./validate";

/** What the twin sends the device. */
export type ToDevice =
  /** On connect, and whenever operators change the desired state. */
  | { type: "desired"; state: JsonObject; version: number; delta: JsonObject }
  /** A command to carry out, then acknowledge; sent again on every connect until it is. */
  | { type: "command"; id: string; name: string; payload: Json; expiresAt: number }
  /** The answer to a report: the reported state's new version and what is still to change. */
  | { type: "reported"; version: number; delta: JsonObject }
  | { type: "error"; error: string };

/** What the device sends the twin. */
export type FromDevice =
  /** A command is done: the twin forgets it. Acknowledging twice, or too late, is harmless. */
  | { type: "ack"; id: string }
  /** A merge patch of the device's state (RFC 7386: null removes a member). */
  | { type: "report"; state: JsonObject };

const USAGE = 'Send JSON like {"type": "ack", "id": "..."} or {"type": "report", "state": {...}}';

export function parseFromDevice(message: string | ArrayBuffer): Checked<FromDevice> {
  let data: { type?: unknown; id?: unknown; state?: unknown };
  try {
    data = JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message));
  } catch {
    return { ok: false, error: USAGE };
  }
  if (data?.type === "ack" && typeof data.id === "string") {
    return { ok: true, value: { type: "ack", id: data.id } };
  }
  if (data?.type === "report") {
    const state = checkDocument(data.state, "state");
    return state.ok ? { ok: true, value: { type: "report", state: state.value } } : state;
  }
  return { ok: false, error: USAGE };
}
