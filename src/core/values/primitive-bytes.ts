/**
 * The V8 serialization of a lone primitive (a number, boolean, null or undefined), written and
 * read by hand: the most common stored value is a counter, and making a V8 serializer and
 * deserializer for it cost more than the rest of its storage call. The bytes are the ones
 * `v8.serialize` writes for the same value, so either side reads the other's (an integer from
 * 2^30 to 2^31, which V8 may hold as a small integer or as a double, is written as a double:
 * `v8.deserialize` reads both forms as the same number).
 */
import { serialize } from "node:v8";

// V8's format: a header (0xFF, the format version), then one tagged value.
const VERSION_TAG = 0xff;
const INT32_TAG = 0x49; // "I": a small integer (a Smi), zigzag varint
const DOUBLE_TAG = 0x4e; // "N": a float64, little-endian
const TRUE_TAG = 0x54; // "T"
const FALSE_TAG = 0x46; // "F"
const NULL_TAG = 0x30; // "0"
const UNDEFINED_TAG = 0x5f; // "_"

/** The format version this Node's V8 writes; reading needs exactly this one. */
const VERSION = serialize(null)[1]!;

// The integers V8 holds as Smis wherever it runs (31 bits with pointer compression): V8 writes
// these with INT32_TAG. Any other number is written as a double, as V8 writes a heap number.
const SMI_MIN = -(2 ** 30);
const SMI_MAX = 2 ** 30 - 1;

/** The bytes of `value` when it is a primitive written here, else undefined. */
export function primitiveBytes(value: unknown): Buffer | undefined {
  switch (typeof value) {
    case "number": {
      if (
        Number.isInteger(value) &&
        value >= SMI_MIN &&
        value <= SMI_MAX &&
        !Object.is(value, -0)
      ) {
        // Zigzag, then base-128 varint: at most 5 bytes for 32 bits.
        let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
        let length = 4;
        for (let rest = zigzag >>> 7; rest > 0; rest >>>= 7) length++;
        const bytes = Buffer.alloc(length);
        bytes[0] = VERSION_TAG;
        bytes[1] = VERSION;
        bytes[2] = INT32_TAG;
        for (let at = 3; at < length; at++, zigzag >>>= 7) {
          bytes[at] = at === length - 1 ? zigzag : (zigzag & 0x7f) | 0x80;
        }
        return bytes;
      }
      const bytes = Buffer.alloc(11);
      bytes[0] = VERSION_TAG;
      bytes[1] = VERSION;
      bytes[2] = DOUBLE_TAG;
      bytes.writeDoubleLE(value, 3);
      return bytes;
    }
    case "boolean":
      return tagOnly(value ? TRUE_TAG : FALSE_TAG);
    case "undefined":
      return tagOnly(UNDEFINED_TAG);
    case "object":
      return value === null ? tagOnly(NULL_TAG) : undefined;
    default:
      return undefined;
  }
}

/** What `bytes` hold when they are a lone primitive in this version's format, else NOT_PRIMITIVE. */
export function primitiveOf(bytes: Uint8Array): unknown {
  if (bytes.length < 3 || bytes[0] !== VERSION_TAG || bytes[1] !== VERSION) return NOT_PRIMITIVE;
  switch (bytes[2]) {
    case INT32_TAG: {
      let zigzag = 0;
      let shift = 0;
      for (let at = 3; at < bytes.length && shift < 35; at++, shift += 7) {
        const byte = bytes[at]!;
        zigzag |= (byte & 0x7f) << shift;
        if (byte < 0x80) {
          // Only a varint that ends the bytes is a lone value.
          return at === bytes.length - 1 ? (zigzag >>> 1) ^ -(zigzag & 1) : NOT_PRIMITIVE;
        }
      }
      return NOT_PRIMITIVE;
    }
    case DOUBLE_TAG:
      return bytes.length === 11
        ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readDoubleLE(3)
        : NOT_PRIMITIVE;
    case TRUE_TAG:
      return bytes.length === 3 ? true : NOT_PRIMITIVE;
    case FALSE_TAG:
      return bytes.length === 3 ? false : NOT_PRIMITIVE;
    case NULL_TAG:
      return bytes.length === 3 ? null : NOT_PRIMITIVE;
    case UNDEFINED_TAG:
      return bytes.length === 3 ? undefined : NOT_PRIMITIVE;
    default:
      return NOT_PRIMITIVE;
  }
}

/** `primitiveOf`'s answer for bytes that are something else: read them with V8. */
export const NOT_PRIMITIVE: unique symbol = Symbol("not a primitive");

// Buffer.alloc, not allocUnsafe: a small unsafe Buffer is a slice of a shared pool, and these
// bytes may be kept (a WebSocket attachment) or handed on whole.
function tagOnly(tag: number): Buffer {
  const bytes = Buffer.alloc(3);
  bytes[0] = VERSION_TAG;
  bytes[1] = VERSION;
  bytes[2] = tag;
  return bytes;
}
