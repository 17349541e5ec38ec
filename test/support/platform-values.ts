// Platform objects (Request, Headers, Blob, URL, streams…) as workerd 2026-11-17 serializes them,
// for the storage, RPC and WebSocket attachment tests and the values property test: those it
// stores and gives back equal, and those it refuses with a DataCloneError, with its texts.
import assert from "node:assert/strict";
import { RpcTarget } from "../../src/index.ts";

/** A platform object workerd stores; `make` builds a fresh one each call. */
export interface StoredCase {
  name: string;
  make: () => object;
}

/** A platform object workerd refuses, and the DataCloneError message it refuses it with. */
export interface RefusedCase {
  name: string;
  make: () => unknown;
  message: string;
}

function cookieHeaders(): Headers {
  const headers = new Headers({ "X-A": "1", "Content-Type": "text/plain" });
  headers.append("Set-Cookie", "a=1; Path=/");
  headers.append("Set-Cookie", "b=2");
  headers.append("x-a", "2");
  return headers;
}

export const STORED: StoredCase[] = [
  { name: "Headers with two Set-Cookie", make: cookieHeaders },
  { name: "empty Headers", make: () => new Headers() },
  {
    name: "Request without a body",
    make: () =>
      new Request("https://example.com/a?b=1", {
        method: "PUT",
        headers: cookieHeaders(),
        redirect: "manual",
        cache: "no-store",
      }),
  },
  { name: "GET Request", make: () => new Request("https://example.com/") },
  {
    name: "Response without a body",
    make: () => new Response(null, { status: 204, statusText: "Nothing", headers: { "x-b": "2" } }),
  },
  { name: "Response.redirect()", make: () => Response.redirect("https://example.com/next", 307) },
  { name: "Response.error()", make: () => Response.error() },
  {
    name: "Blob",
    make: () => new Blob(["abc", new Uint8Array([0, 255, 7])], { type: "Text/Plain" }),
  },
  { name: "empty Blob", make: () => new Blob([]) },
  { name: "DOMException", make: () => new DOMException("not here", "NotFoundError") },
];

const unsupported = (type: string) =>
  `Could not serialize object of type "${type}". This type does not support serialization.`;
const STREAM = "ReadableStream can only be serialized for RPC.";

/** Refused everywhere: storage, RPC and attachments. */
export const REFUSED: RefusedCase[] = [
  {
    name: "File",
    make: () => new File(["x"], "f.txt", { type: "text/plain", lastModified: 5 }),
    message: unsupported("File"),
  },
  { name: "URL", make: () => new URL("https://example.com/x"), message: unsupported("URL") },
  {
    name: "URLSearchParams",
    make: () => new URLSearchParams("a=1&b=2"),
    message: unsupported("URLSearchParams"),
  },
  {
    name: "FormData",
    make: () => {
      const form = new FormData();
      form.append("a", "1");
      return form;
    },
    message: unsupported("FormData"),
  },
  {
    name: "AbortSignal",
    make: () => new AbortController().signal,
    message: "AbortSignal serialization is not enabled.",
  },
  {
    name: "AbortController",
    make: () => new AbortController(),
    message: unsupported("AbortController"),
  },
  { name: "Event", make: () => new Event("x"), message: unsupported("Event") },
  { name: "EventTarget", make: () => new EventTarget(), message: unsupported("EventTarget") },
  { name: "TextEncoder", make: () => new TextEncoder(), message: unsupported("TextEncoder") },
  {
    name: "WebSocket",
    make: () => new WebSocketPair()[0],
    message: unsupported("WebSocket"),
  },
];

/** Refused outside RPC only: RPC carries streams (and bodies as streams) and RpcTarget stubs. */
export const REFUSED_OUTSIDE_RPC: RefusedCase[] = [
  {
    name: "RpcTarget",
    make: () => new (class Session extends RpcTarget {})(),
    message: "Remote RPC references can only be serialized for RPC.",
  },
  {
    name: "Request with a body",
    make: () => new Request("https://example.com/", { method: "POST", body: "hello" }),
    message: STREAM,
  },
  { name: "Response with a body", make: () => new Response("hello"), message: STREAM },
  { name: "ReadableStream", make: () => new ReadableStream(), message: STREAM },
  {
    name: "WritableStream",
    make: () => new WritableStream(),
    message: "WritableStream can only be serialized for RPC.",
  },
];

/** Asserts `error` is workerd's DataCloneError: a DOMException, code 25, with `message`. */
export function assertDataCloneError(error: unknown, message: string): void {
  assert.ok(error instanceof DOMException, `expected a DOMException, got ${String(error)}`);
  assert.equal(error.name, "DataCloneError");
  assert.equal(error.code, 25);
  assert.equal(error.message, message);
}

/**
 * A plain, comparable picture of a value: each platform object becomes its class and the fields
 * workerd keeps (Blob bytes included), nested through arrays, plain objects, Maps and Sets.
 */
export async function picture(value: unknown): Promise<unknown> {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Headers) return { Headers: [...value] };
  if (value instanceof Request) {
    return {
      Request: {
        method: value.method,
        url: value.url,
        headers: [...value.headers],
        redirect: value.redirect,
        cache: value.cache,
        body: value.body,
      },
    };
  }
  if (value instanceof Response) {
    return {
      Response: {
        type: value.type,
        status: value.status,
        statusText: value.statusText,
        headers: [...value.headers],
        body: value.body,
      },
    };
  }
  if (value instanceof File) return { File: value.name };
  if (value instanceof Blob) {
    return { Blob: { type: value.type, bytes: [...new Uint8Array(await value.arrayBuffer())] } };
  }
  if (value instanceof DOMException) {
    return { DOMException: { name: value.name, message: value.message, code: value.code } };
  }
  if (Array.isArray(value)) return Promise.all(value.map(picture));
  if (value instanceof Map) {
    const entries = await Promise.all(
      [...value].map(async ([k, v]) => [await picture(k), await picture(v)] as const),
    );
    return new Map(entries);
  }
  if (value instanceof Set) return new Set(await Promise.all([...value].map(picture)));
  if (Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await picture(v);
    return out;
  }
  return value; // Date, RegExp, typed arrays, Error…: deepStrictEqual compares them itself
}

/**
 * Asserts `copy` is an object of `original`'s class with the fields workerd keeps, and a fresh
 * one unless `fresh` is false (RPC hands a Request or Response over by reference in-process).
 */
export async function assertSameValue(
  copy: unknown,
  original: unknown,
  fresh = true,
): Promise<void> {
  if (typeof original === "object" && original !== null) {
    if (fresh) assert.notEqual(copy, original, "a copy, not the same object");
    assert.equal(
      Object.getPrototypeOf(copy)?.constructor?.name,
      Object.getPrototypeOf(original)?.constructor?.name,
    );
  }
  assert.deepStrictEqual(await picture(copy), await picture(original));
}
