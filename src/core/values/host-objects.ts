/**
 * Platform objects (Request, Headers, Blob, URL, streams…) as workerd's serializer treats them.
 * Node's V8 serializer sees these as plain objects and would store `{}`; workerd stores a few of
 * them (those its API declares `JSG_SERIALIZABLE`) and refuses every other one with a
 * `DataCloneError`. Checked against workerd 2026-11-17 (see docs/values.md).
 */
import { RpcTarget } from "../base-classes.ts";
import { WebSocketRequestResponsePair } from "../websocket/request-response-pair.ts";
import { Response as SteadResponse } from "../websocket/response.ts";
import { WebSocketPair } from "../websocket/web-socket-pair.ts";
import { readBlobSync } from "./blob-bytes.ts";
import {
  ABORT_SIGNAL_DISABLED,
  dataCloneError,
  READABLE_STREAM_RPC_ONLY,
  unsupportedTypeError,
  WRITABLE_STREAM_RPC_ONLY,
} from "./data-clone-error.ts";

/** The platform classes workerd stores, each with its own tag in the serialized bytes. */
export const HOST_TAGS = {
  Headers: 1,
  Request: 2,
  Response: 3,
  Blob: 4,
  DOMException: 5,
} as const;
export type StoredHostName = keyof typeof HOST_TAGS;
export type HostTag = (typeof HOST_TAGS)[StoredHostName];

/** What the serializer does with an instance of a platform class. */
export type HostClass =
  /** Stored and given back equal (its `encodeHost` record is what is written). */
  | { readonly kind: "stored"; readonly name: StoredHostName }
  /** Refused: a `DataCloneError` with this text, or workerd's "type not supported" text. */
  | { readonly kind: "refused"; readonly message?: string };

/** How a class's instances are serialized, by the prototype that decides it. */
let table: Map<object, HostClass> | undefined;

function buildTable(): Map<object, HostClass> {
  const stored = (name: StoredHostName): HostClass => ({ kind: "stored", name });
  const refused = (message?: string): HostClass => ({ kind: "refused", message });
  const g = globalThis as unknown as Record<string, { prototype: object } | undefined>;
  const entries: Array<[{ prototype: object } | undefined, HostClass]> = [
    [g.Headers, stored("Headers")],
    [g.Request, stored("Request")],
    // Stead's global Response extends Node's; Node's own responses (fetch) have Node's prototype.
    [Object.getPrototypeOf(SteadResponse), stored("Response")],
    [g.File, refused()], // before Blob: workerd registers Blob only, not its subclass File
    [g.Blob, stored("Blob")],
    [g.DOMException, stored("DOMException")],
    [g.ReadableStream, refused(READABLE_STREAM_RPC_ONLY)],
    [g.WritableStream, refused(WRITABLE_STREAM_RPC_ONLY)],
    [g.AbortSignal, refused(ABORT_SIGNAL_DISABLED)],
    // In storage and attachments; RPC passes an RpcTarget by reference before asking here.
    [RpcTarget, refused("Remote RPC references can only be serialized for RPC.")],
    [WebSocketPair, refused()],
    [WebSocketRequestResponsePair, refused()],
  ];
  // Every other Web platform class Node gives Workers code: no serializer in workerd either.
  for (const name of [
    "URL",
    "URLSearchParams",
    "URLPattern",
    "FormData",
    "Event",
    "EventTarget", // WebSocket, MessagePort, BroadcastChannel, AbortSignal's base…
    "AbortController",
    "TextEncoder",
    "TextDecoder",
    "TextEncoderStream",
    "TextDecoderStream",
    "TransformStream",
    "CompressionStream",
    "DecompressionStream",
    "ReadableStreamDefaultReader",
    "ReadableStreamBYOBReader",
    "ReadableStreamBYOBRequest",
    "ReadableByteStreamController",
    "ReadableStreamDefaultController",
    "WritableStreamDefaultWriter",
    "WritableStreamDefaultController",
    "TransformStreamDefaultController",
    "ByteLengthQueuingStrategy",
    "CountQueuingStrategy",
    "MessageChannel",
    "Crypto",
    "SubtleCrypto",
    "CryptoKey",
    "Performance",
    "PerformanceEntry",
    "Navigator",
  ]) {
    entries.push([g[name], refused()]);
  }
  const result = new Map<object, HostClass>();
  for (const [ctor, how] of entries) {
    if (ctor !== undefined && !result.has(ctor.prototype)) result.set(ctor.prototype, how);
  }
  return result;
}

/**
 * How `value` is serialized if it is a platform object (its class or a subclass of it), or
 * undefined for everything else. `proto` is `value`'s prototype.
 */
export function hostClassOf(proto: object): HostClass | undefined {
  table ??= buildTable();
  for (let p: object | null = proto; p !== null; p = Object.getPrototypeOf(p)) {
    const how = table.get(p);
    if (how !== undefined) return how;
  }
  return undefined;
}

/** The `DataCloneError` for an instance of a refused class. */
export function refusal(value: object, how: HostClass & { kind: "refused" }): DOMException {
  if (how.message !== undefined) return dataCloneError(how.message);
  return unsupportedTypeError(constructorName(value));
}

/** The data a stored platform object is written as: plain values only. */
export type HostRecord = Record<string, unknown>;

/**
 * The record `value` (an instance of the stored class `name`) is written as, or a
 * `DataCloneError` thrown where workerd throws one: a Request or Response with a body (the body
 * is a stream), a Response carrying a WebSocket.
 */
export function encodeHost(value: object, name: StoredHostName): HostRecord {
  switch (name) {
    case "Headers":
      return { entries: [...(value as Headers)] };
    case "Request": {
      const request = value as Request;
      if (request.body !== null) throw dataCloneError(READABLE_STREAM_RPC_ONLY);
      // workerd writes these fields and rebuilds the request with `new Request(url, init)`;
      // defaults are left out. (The signal is not stored: a Node Request always has one.)
      const init: HostRecord = { headers: [...request.headers] };
      if (request.method !== "GET") init.method = request.method;
      if (request.redirect !== "follow") init.redirect = request.redirect;
      if (request.cache !== "default") init.cache = request.cache;
      return { url: request.url, init };
    }
    case "Response": {
      const response = value as Response;
      if (response.webSocket) throw unsupportedTypeError("WebSocket");
      if (response.body !== null) throw dataCloneError(READABLE_STREAM_RPC_ONLY);
      if (response.type === "error") return { error: true };
      return {
        status: response.status,
        statusText: response.statusText,
        headers: [...response.headers],
      };
    }
    case "Blob": {
      const blob = value as Blob;
      return { type: blob.type, bytes: readBlobSync(blob) };
    }
    case "DOMException": {
      const error = value as DOMException;
      const record: HostRecord = { name: error.name, message: error.message };
      if (typeof error.stack === "string") record.stack = error.stack;
      return record;
    }
  }
}

/** A fresh object equal to the one `record` was written from. */
export function decodeHost(tag: number, record: HostRecord): object {
  switch (tag) {
    case HOST_TAGS.Headers:
      return headersFrom(record.entries);
    case HOST_TAGS.Request: {
      const { headers, ...init } = record.init as HostRecord;
      const request = new Request(record.url as string, init);
      headersFrom(headers, request.headers);
      return request;
    }
    case HOST_TAGS.Response: {
      if (record.error === true) return SteadResponse.error();
      const response = new SteadResponse(null, {
        status: record.status as number,
        statusText: record.statusText as string,
      });
      headersFrom(record.headers, response.headers);
      return response;
    }
    case HOST_TAGS.Blob:
      return new Blob([record.bytes as Uint8Array<ArrayBuffer>], { type: record.type as string });
    case HOST_TAGS.DOMException: {
      const error = new DOMException(record.message as string, record.name as string);
      if (typeof record.stack === "string") {
        Object.defineProperty(error, "stack", {
          value: record.stack,
          writable: true,
          configurable: true,
        });
      }
      return error;
    }
    default:
      throw dataCloneError(`Deserialization failed: unknown host object tag ${tag}.`);
  }
}

/** A copy of `headers` with the same entries (the RPC copy). */
export function copyHeaders(headers: Headers): Headers {
  return headersFrom([...headers]);
}

/**
 * `headers` with these entries appended. Node's iteration joins a name's values with ", " and
 * `append` trims each value (so does the Request and Response constructors' copy), so a value
 * that ends in ", " (its last part was empty) is appended part by part, or the trim would lose
 * the empty part.
 */
function headersFrom(entries: unknown, headers = new Headers()): Headers {
  const append = (name: string, value: string): void => {
    if (value.endsWith(", ")) {
      append(name, value.slice(0, -2));
      headers.append(name, "");
    } else {
      headers.append(name, value);
    }
  };
  for (const [name, value] of entries as Array<[string, string]>) append(name, value);
  return headers;
}

/** The class name workerd puts in its message (V8's constructor name). */
export function constructorName(value: object): string {
  const ctor = (value as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === "string" && ctor.name !== "" ? ctor.name : "Object";
}
