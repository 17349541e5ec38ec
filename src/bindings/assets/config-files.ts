import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type ParsedHeaders, parseHeadersFile } from "./headers-file.ts";
import { type ParsedRedirects, parseRedirectsFile } from "./redirects-file.ts";

/** How long a parsed `_headers` / `_redirects` is trusted before its file is looked at again. */
const RECHECK_MS = 250;

const NO_HEADERS: ParsedHeaders = { rules: [], problems: [] };
const NO_REDIRECTS: ParsedRedirects = { exact: new Map(), dynamic: [], problems: [] };

/**
 * The `_headers` and `_redirects` files of an assets directory, parsed when they change: each is
 * looked at again at most every 250 ms, so an edit applies without a restart and a busy server
 * does not stat them on every request. Problems in a file are reported once per version.
 */
export class ConfigFiles {
  readonly #headers: Watched<ParsedHeaders>;
  readonly #redirects: Watched<ParsedRedirects>;

  constructor(directory: string, htmlHandlingOn: boolean, warn: (message: string) => void) {
    this.#headers = new Watched(join(directory, "_headers"), NO_HEADERS, parseHeadersFile, warn);
    this.#redirects = new Watched(
      join(directory, "_redirects"),
      NO_REDIRECTS,
      (text) => parseRedirectsFile(text, htmlHandlingOn),
      warn,
    );
  }

  headers(): Promise<ParsedHeaders> | ParsedHeaders {
    return this.#headers.current();
  }

  redirects(): Promise<ParsedRedirects> | ParsedRedirects {
    return this.#redirects.current();
  }
}

class Watched<T extends { readonly problems: readonly string[] }> {
  readonly #path: string;
  readonly #empty: T;
  readonly #parse: (text: string) => T;
  readonly #warn: (message: string) => void;
  #value: T;
  #version = "";
  #checkedAt = -Infinity;
  #checking: Promise<T> | undefined;

  constructor(path: string, empty: T, parse: (text: string) => T, warn: (m: string) => void) {
    this.#path = path;
    this.#empty = empty;
    this.#parse = parse;
    this.#warn = warn;
    this.#value = empty;
  }

  current(): Promise<T> | T {
    if (performance.now() - this.#checkedAt < RECHECK_MS) return this.#value;
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #check(): Promise<T> {
    this.#checkedAt = performance.now();
    let version: string;
    try {
      const info = await stat(this.#path, { bigint: true });
      version = info.isFile() ? `${info.size}:${info.mtimeNs}:${info.ino}` : "";
    } catch {
      version = "";
    }
    if (version === this.#version) return this.#value;
    this.#version = version;
    if (version === "") {
      this.#value = this.#empty;
      return this.#value;
    }
    try {
      this.#value = this.#parse(await readFile(this.#path, "utf8"));
    } catch (error) {
      this.#warn(`${this.#path}: could not be read (${String(error)}); it is ignored`);
      this.#value = this.#empty;
      return this.#value;
    }
    for (const problem of this.#value.problems) this.#warn(`${this.#path}: ${problem}`);
    return this.#value;
  }
}
