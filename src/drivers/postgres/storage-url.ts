/** A PostgreSQL storage URL, split into what the client connects to and where Stead's tables live. */
export interface StorageUrl {
  /** The URL the client connects with (without Stead's own `schema` parameter). */
  readonly connect: string;
  /** The schema holding Stead's tables (`?schema=NAME`, default `stead`). */
  readonly schema: string;
  /** The URL for messages and logs: the password replaced by `***`. */
  readonly display: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Parses `postgres://user:password@host:port/database?schema=NAME`. Throws a `TypeError` naming
 * the problem and the expected form.
 */
export function parseStorageUrl(text: string): StorageUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(
      `"${hidePassword(text)}" is not a URL. Use postgres://user:password@host:5432/database (optionally ?schema=NAME).`,
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new TypeError(
      `${url.protocol} storage is not supported: use a PostgreSQL URL, postgres://user:password@host:5432/database.`,
    );
  }
  const schema = url.searchParams.get("schema") ?? "stead";
  if (!SCHEMA_NAME.test(schema)) {
    throw new TypeError(
      `schema=${schema} in the storage URL is not a plain schema name: use lowercase letters, digits and _ (at most 63), like schema=stead.`,
    );
  }
  url.searchParams.delete("schema");
  return { connect: url.href, schema, display: hidePassword(url.href) };
}

function hidePassword(text: string): string {
  try {
    const url = new URL(text);
    if (url.password !== "") url.password = "***";
    url.searchParams.delete("password");
    return url.href;
  } catch {
    return text.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}
