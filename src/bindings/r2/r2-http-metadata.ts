/** The HTTP headers R2 keeps with an object (`httpMetadata`). */
export interface R2HTTPMetadata {
  contentType?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  cacheControl?: string;
  cacheExpiry?: Date;
}

/** As stored: the same fields, `cacheExpiry` in ms since the epoch. */
export type StoredHttpMetadata = Omit<R2HTTPMetadata, "cacheExpiry"> & { cacheExpiry?: number };

const FIELDS = [
  ["contentType", "content-type"],
  ["contentLanguage", "content-language"],
  ["contentDisposition", "content-disposition"],
  ["contentEncoding", "content-encoding"],
  ["cacheControl", "cache-control"],
] as const;

/** `httpMetadata` given as an object of fields or as `Headers`, checked and stored. */
export function parseHttpMetadata(value: unknown): StoredHttpMetadata {
  if (value === undefined || value === null) return {};
  const stored: StoredHttpMetadata = {};
  if (value instanceof Headers) {
    for (const [field, header] of FIELDS) {
      const text = value.get(header);
      if (text !== null) stored[field] = text;
    }
    const expires = value.get("expires");
    if (expires !== null) {
      const time = Date.parse(expires);
      if (!Number.isNaN(time)) stored.cacheExpiry = time;
    }
    return stored;
  }
  if (typeof value !== "object") {
    throw new TypeError("httpMetadata must be an object of R2HTTPMetadata fields, or Headers.");
  }
  const fields = value as Record<string, unknown>;
  for (const [field] of FIELDS) {
    const text = fields[field];
    if (text === undefined) continue;
    if (typeof text !== "string") throw new TypeError(`httpMetadata.${field} must be a string.`);
    stored[field] = text;
  }
  const expiry = fields.cacheExpiry;
  if (expiry !== undefined) {
    if (!(expiry instanceof Date)) throw new TypeError("httpMetadata.cacheExpiry must be a Date.");
    stored.cacheExpiry = expiry.getTime();
  }
  return stored;
}

/** The stored metadata as `R2Object#httpMetadata` shows it. */
export function showHttpMetadata(stored: StoredHttpMetadata): R2HTTPMetadata {
  const { cacheExpiry, ...rest } = stored;
  return cacheExpiry === undefined ? { ...rest } : { ...rest, cacheExpiry: new Date(cacheExpiry) };
}

/** `R2Object#writeHttpMetadata(headers)`: sets the headers the metadata names. */
export function writeHttpMetadata(stored: StoredHttpMetadata, headers: Headers): void {
  for (const [field, header] of FIELDS) {
    const text = stored[field];
    if (text !== undefined) headers.set(header, text);
  }
  if (stored.cacheExpiry !== undefined) {
    headers.set("expires", new Date(stored.cacheExpiry).toUTCString());
  }
}

/** `customMetadata`: an object of string values. */
export function parseCustomMetadata(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError("customMetadata must be an object whose values are strings.");
  }
  const custom: Record<string, string> = {};
  for (const [name, text] of Object.entries(value as Record<string, unknown>)) {
    if (typeof text !== "string") {
      throw new TypeError(`customMetadata.${name} must be a string.`);
    }
    custom[name] = text;
  }
  return custom;
}
