import { deserializeValue, serializeValue } from "../../core/values/value-serializer.ts";
import type { QueueContentType } from "./queue-store.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `send`'s `contentType`, checked as workerd checks it (case-insensitive). */
export function contentTypeOf(type: unknown): QueueContentType {
  const lower = String(type).toLowerCase();
  if (lower === "text" || lower === "bytes" || lower === "json" || lower === "v8") return lower;
  throw new TypeError(`Unsupported queue message content type: ${String(type)}`);
}

/**
 * A message body as bytes in `type`, with workerd's errors: `text` takes a string, `bytes` an
 * ArrayBufferView (copied), `json` what JSON.stringify takes, `v8` what structured clone takes.
 */
export function encodeBody(body: unknown, type: QueueContentType): Uint8Array {
  if (body === undefined) throw new TypeError("Message body cannot be undefined");
  switch (type) {
    case "text":
      if (typeof body !== "string") throw wrongType("text", "string", body);
      return encoder.encode(body);
    case "bytes":
      if (!ArrayBuffer.isView(body)) throw wrongType("bytes", "ArrayBufferView", body);
      return new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
    case "json": {
      const text = JSON.stringify(body);
      return encoder.encode(text ?? "null");
    }
    case "v8":
      return new Uint8Array(serializeValue(body));
  }
}

/** The body a consumer sees. */
export function decodeBody(bytes: Uint8Array, type: QueueContentType): unknown {
  switch (type) {
    case "text":
      return decoder.decode(bytes);
    case "bytes":
      return new Uint8Array(bytes);
    case "json":
      return JSON.parse(decoder.decode(bytes));
    case "v8":
      return deserializeValue(bytes);
  }
}

function wrongType(type: string, wanted: string, body: unknown): TypeError {
  return new TypeError(
    `Content Type "${type}" requires a value of type ${wanted}, but received: ${typeof body}`,
  );
}
