import type { ServerResponse } from "node:http";
import { bodyLength } from "../core/body-length.ts";
import { encodedBodyOf } from "../core/encoded-body.ts";
import { takeBody } from "../core/websocket/response.ts";
import { contentEncoder } from "./content-encoding.ts";
import { bodyFailedReply, sendReply } from "./error-reply.ts";

/** Headers about the connection rather than the content: the server frames responses itself. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding"]);

/** Cloudflare's text for a response body stream that yields something other than bytes. */
const NOT_BYTES = "This ReadableStream did not return bytes.";

export interface WriteOptions {
  /**
   * The request was HEAD: headers only. The body is still read up to its first chunk, so a
   * small body gets the Content-Length a GET would; then it is cancelled.
   */
  readonly head: boolean;
  /** Tell the client to close the connection after this response (the server is stopping). */
  readonly close: boolean;
}

/** What writing a response did, updated as it goes (the log reads it when the response ends). */
export interface WriteProgress {
  /** Body bytes written to the connection. */
  bytes: number;
  /** Why the body could not be sent whole (its stream failed); the connection was cut. */
  error: unknown;
}

/**
 * Writes a Web Response to Node's response: status, status text, every header (each
 * `Set-Cookie` on its own line), and the body streamed with backpressure. A body that fails
 * midway aborts the connection, so the client sees a truncated response rather than a complete
 * one; a client that disconnects cancels the body stream. Never rejects.
 */
export async function writeResponse(
  res: ServerResponse,
  response: Response,
  options: WriteOptions,
  progress: WriteProgress,
): Promise<void> {
  const headers: string[] = [];
  let encoding: string | undefined;
  let hasLength = false;
  // Iteration yields each Set-Cookie separately (as getSetCookie() does) and joins the rest.
  for (const [name, value] of response.headers) {
    if (HOP_BY_HOP.has(name)) continue;
    if (name === "content-encoding") encoding = value;
    else if (name === "content-length") hasLength = true;
    headers.push(name, value);
  }
  if (options.close) headers.push("connection", "close");

  // A string or bytes body nothing has read (`new Response("text")`, `Response.json(value)`, a
  // static asset): its bytes (a string's UTF-8, as its stream would give them) leave with the
  // headers in one write. No stream is made.
  const held = encoding === undefined ? takeBody(response) : undefined;
  if (held !== undefined) {
    const bytes =
      typeof held === "string"
        ? Buffer.from(held)
        : Buffer.from(held.buffer, held.byteOffset, held.byteLength);
    if (!hasLength) headers.push("content-length", String(bytes.byteLength));
    writeHead(res, response, headers);
    if (options.head) res.end();
    else {
      progress.bytes = bytes.byteLength;
      res.end(bytes);
    }
    return;
  }

  let body: ReadableStream<Uint8Array> | null = response.body;
  if (body === null || response.status === 204 || response.status === 304) {
    body?.cancel().catch(ignore);
    if (body === null && !hasLength && response.status !== 204 && response.status !== 304) {
      headers.push("content-length", "0");
    }
    writeHead(res, response, headers);
    res.end();
    return;
  }
  const encoded = encoding === undefined ? undefined : encodedBodyOf(response, encoding);
  if (encoded !== undefined) {
    // Already encoded (a precompressed asset): sent as it is, framed by its length.
    body.cancel().catch(ignore);
    removeHeader(headers, "content-length");
    headers.push("content-length", String(encoded.byteLength));
    writeHead(res, response, headers);
    progress.bytes = options.head ? 0 : encoded.byteLength;
    if (options.head) res.end();
    else res.end(encoded);
    return;
  }
  const encoder = encoding === undefined ? undefined : contentEncoder(encoding);
  if (encoder !== undefined) {
    body = body.pipeThrough(encoder);
    if (hasLength) removeHeader(headers, "content-length");
    hasLength = false;
  }

  // A body whose length is known (a FixedLengthStream's, an R2 object's) is framed by it.
  const declared = hasLength ? undefined : bodyLength(body);
  if (declared !== undefined) {
    headers.push("content-length", String(declared));
    hasLength = true;
  }

  const reader = body.getReader();
  const onClose = () => {
    if (!res.writableFinished) reader.cancel(new Error("The client disconnected.")).catch(ignore);
  };
  res.once("close", onClose);
  try {
    const first = await reader.read();
    if (first.done) {
      if (!hasLength) headers.push("content-length", "0");
      writeHead(res, response, headers);
      res.end();
      return;
    }
    // Fast path: a body that is whole in its first chunk (a string, bytes, JSON) leaves with
    // its headers in one write, framed by Content-Length instead of chunked encoding. Waiting
    // for the second read is bounded by one macrotask, so a streamed body's first chunk is not
    // held back.
    const next = reader.read();
    next.catch(ignore);
    const settled = await Promise.race([next, nextTurn()]);
    if (settled !== LATER && settled.done) {
      const chunk = bytesOf(first.value);
      if (!hasLength) headers.push("content-length", String(chunk.byteLength));
      writeHead(res, response, headers);
      if (options.head) res.end();
      else {
        progress.bytes = chunk.byteLength;
        res.end(chunk);
      }
      return;
    }
    writeHead(res, response, headers);
    if (options.head) {
      reader.cancel().catch(ignore);
      res.end();
      return;
    }
    let result: ReadableStreamReadResult<Uint8Array> = first;
    let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined = next;
    while (!result.done) {
      const chunk = bytesOf(result.value);
      progress.bytes += chunk.byteLength;
      if (!res.write(chunk)) await drained(res);
      if (res.destroyed) return;
      result = await (pending ?? reader.read());
      pending = undefined;
    }
    if (!res.destroyed) res.end();
  } catch (error) {
    progress.error = error;
    reader.cancel(error).catch(ignore);
    if (res.headersSent) res.destroy();
    else sendReply(res, bodyFailedReply(), true);
  } finally {
    res.off("close", onClose);
  }
}

function writeHead(res: ServerResponse, response: Response, headers: string[]): void {
  if (response.statusText === "") res.writeHead(response.status, headers);
  else res.writeHead(response.status, response.statusText, headers);
}

function removeHeader(headers: string[], name: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i] === name) headers.splice(i, 2);
}

function bytesOf(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw new TypeError(NOT_BYTES);
}

/** Resolves when `res` can take more data, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

const LATER = Symbol("later");

/** Resolves after the current macrotask, once pending I/O callbacks and microtasks have run. */
function nextTurn(): Promise<typeof LATER> {
  return new Promise((resolve) => setImmediate(resolve, LATER));
}

function ignore(): void {}
