import { createHash, timingSafeEqual } from "node:crypto";
import { deserialize, serialize } from "node:v8";
import { SteadError } from "../core/errors.ts";

/**
 * How calls cross between cluster nodes over HTTP/1.1 (one request per event):
 * `POST /stead/v1/call` with the secret as a bearer token, the target and event in the
 * `stead-call` header (JSON, base64url), and the body: a fetch event's request body, streamed; an RPC
 * call's arguments, V8-serialized (structured clone). The answer's `stead-outcome` says how it
 * ended: "ok" (for fetch, `stead-response` holds status and headers and the body streams;
 * otherwise the value, V8-serialized), "error" (a `WireError` as JSON), or "elsewhere" (the
 * node does not hold the object; `stead-owner` names the holder it knows).
 */
export const CALL_PATH = "/stead/v1/call";

/**
 * A WebSocket upgrade for an object on another node: a WebSocket handshake to this path with the
 * same headers. The holder answers 101 when the object accepted (the link then carries the
 * socket's frames both ways), or plain HTTP as for a call otherwise.
 */
export const SOCKET_PATH = "/stead/v1/socket";

/** The `stead-call` header. */
export interface CallHeader {
  namespace: string;
  id: string;
  name: string | undefined;
  jurisdiction: string | undefined;
  kind: "fetch" | "rpc" | "alarm" | "admin";
  /** The sender can send the event again, so the receiver may turn it away unread. */
  resendable: boolean;
  /** RPC: the member called. */
  member?: string;
  /** Alarm: the record and whether to run it early. */
  record?: unknown;
  force?: boolean;
  /** Fetch: the request line and headers. */
  request?: {
    method: string;
    url: string;
    headers: [string, string][];
    redirect: RequestRedirect;
    hasBody: boolean;
  };
}

/** The `stead-response` header of a forwarded fetch's answer. */
export interface ResponseHeader {
  status: number;
  statusText: string;
  headers: [string, string][];
}

export function encodeValue(value: unknown, what: string): Buffer {
  try {
    return serialize(value);
  } catch (error) {
    throw new SteadError(
      "CROSS_NODE_UNSUPPORTED",
      `${what} cannot be sent to a Durable Object on another cluster node (${(error as Error).message}). Functions, RpcTargets, stubs and streams do not cross nodes yet: pass plain data.`,
    );
  }
}

export function decodeValue(bytes: Uint8Array): unknown {
  return bytes.byteLength === 0 ? undefined : deserialize(bytes);
}

/** A JSON header value, base64url-encoded so any URL or header text crosses intact. */
export function encodeHeader(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

export function decodeHeader(header: string | string[] | undefined): unknown {
  if (typeof header !== "string") throw new Error("internal: a cluster header is missing");
  return JSON.parse(Buffer.from(header, "base64url").toString());
}

/** The secret as sent (`authorization: Bearer …`). */
export function bearer(secret: string): string {
  return `Bearer ${secret}`;
}

/** Compares an `authorization` header with the secret in constant time. */
export function authorized(header: string | undefined, secret: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return header !== undefined && timingSafeEqual(digest(header), digest(bearer(secret)));
}
