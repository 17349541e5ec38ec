import { R2Failure } from "./r2-errors.ts";

/** R2's limits (https://developers.cloudflare.com/r2/platform/limits/). */
export const R2_LIMITS = {
  /** Bytes of a key, UTF-8. */
  maxKeyBytes: 1024,
  /** Bytes of one `put` (5 GiB - 5 MiB). */
  maxPutBytes: 5 * 1024 ** 3 - 5 * 1024 ** 2,
  /** Bytes of a part; every part but the last is at least `minPartBytes`. */
  maxPartBytes: 5 * 1024 ** 3,
  minPartBytes: 5 * 1024 ** 2,
  /** Part numbers are 1..maxParts. */
  maxParts: 10_000,
  /** Custom metadata, keys and values counted as R2 counts them. */
  maxMetadataBytes: 2048,
  /** Keys of one `list` page, and of one `delete`. */
  maxListKeys: 1000,
  maxDeleteKeys: 1000,
} as const;

const encoder = new TextEncoder();

/** The key as UTF-8; a key over 1024 bytes is `InvalidObjectName`. */
export function keyBytes(key: string): Uint8Array {
  const bytes = encoder.encode(key);
  if (bytes.byteLength > R2_LIMITS.maxKeyBytes) throw new R2Failure("InvalidObjectName");
  return bytes;
}

/** Custom metadata over 2 KiB (a string with a character past U+00FF counts 2 bytes each). */
export function checkMetadataSize(custom: Record<string, string>): void {
  let total = 0;
  for (const [name, value] of Object.entries(custom)) {
    total += serializedLength(name) + serializedLength(value);
  }
  if (total > R2_LIMITS.maxMetadataBytes) throw new R2Failure("MetadataTooLarge");
}

function serializedLength(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 256) return text.length * 2;
  }
  return text.length;
}
