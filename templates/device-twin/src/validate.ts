// What a twin accepts, checked where input arrives (the Worker for HTTP, the object for the
// device's WebSocket messages), each failure a message saying what was wrong.
import { isObject, type Json, type JsonObject } from "./json";

/** Largest state document or command payload, in bytes of JSON. */
export const MAX_DOCUMENT_BYTES = 32 * 1024;
/** Deepest nesting of objects and arrays in a document. */
export const MAX_DEPTH = 16;
/** Longest a command may wait for its device. */
export const MAX_TTL_SECONDS = 7 * 24 * 60 * 60;

/** A command as an operator sends it. */
export interface CommandRequest {
  name: string;
  payload: Json;
  /** Seconds the command waits for the device; absent: COMMAND_TTL_SECONDS. */
  ttlSeconds?: number;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** A device id: what follows /devices/ in a path. */
export function isDeviceId(id: string): boolean {
  return /^[\w.:-]{1,128}$/.test(id);
}

/** A state document: a JSON object of bounded size and depth. */
export function checkDocument(value: unknown, what: string): Checked<JsonObject> {
  if (!isObject(value as Json)) {
    return { ok: false, error: `${what} must be a JSON object, like {"led": "on"}` };
  }
  return checkSize(value as JsonObject, what);
}

export function checkCommand(body: unknown): Checked<CommandRequest> {
  if (!isObject(body as Json)) {
    return { ok: false, error: 'Send JSON like {"name": "reboot", "payload": {"delay": 5}}' };
  }
  const { name, payload = null, ttlSeconds } = body as Record<string, Json | undefined>;
  if (typeof name !== "string" || !/^[\w.:-]{1,64}$/.test(name)) {
    return { ok: false, error: "name must be 1 to 64 letters, digits, '.', ':', '-' or '_'" };
  }
  if (
    ttlSeconds !== undefined &&
    (typeof ttlSeconds !== "number" ||
      !Number.isInteger(ttlSeconds) ||
      ttlSeconds < 1 ||
      ttlSeconds > MAX_TTL_SECONDS)
  ) {
    return {
      ok: false,
      error: `ttlSeconds must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS} (got ${JSON.stringify(ttlSeconds)})`,
    };
  }
  const size = checkSize(payload, "payload");
  if (!size.ok) return size;
  return {
    ok: true,
    value: { name, payload, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) },
  };
}

function checkSize<T extends Json>(value: T, what: string): Checked<T> {
  const bytes = new TextEncoder().encode(JSON.stringify(value)).length;
  if (bytes > MAX_DOCUMENT_BYTES) {
    return {
      ok: false,
      error: `${what} is ${bytes} bytes of JSON; at most ${MAX_DOCUMENT_BYTES} are allowed`,
    };
  }
  if (depth(value) > MAX_DEPTH) {
    return { ok: false, error: `${what} nests deeper than ${MAX_DEPTH} levels` };
  }
  return { ok: true, value };
}

function depth(value: Json): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depth));
  if (isObject(value)) return 1 + Math.max(0, ...Object.values(value).map(depth));
  return 0;
}
