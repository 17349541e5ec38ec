import { SteadError } from "../core/errors.ts";

/**
 * Exports of `cloudflare:*` modules whose service Stead does not provide (AI, email sending,
 * Vectorize, ...). They exist so that an app or library importing them at top level still
 * loads; using one throws `API_UNSUPPORTED`, naming the API.
 */

/** The error every unsupported API throws. */
export function unsupportedError(api: string, specifier: string, reason: string): SteadError {
  return new SteadError(
    "API_UNSUPPORTED",
    `${api} from "${specifier}" is not supported by Stead: ${reason}. Keep this code path for Cloudflare, or guard it; see docs/compatibility.md#cloudflare-modules.`,
  );
}

/** A class whose construction throws `API_UNSUPPORTED` (it can still be named and extended). */
export function unsupportedClass(
  api: string,
  specifier: string,
  reason: string,
): new (
  ...args: any[]
) => any {
  const cls = class {
    constructor() {
      throw unsupportedError(api, specifier, reason);
    }
  };
  Object.defineProperty(cls, "name", { value: api });
  return cls;
}

/** A function whose call throws `API_UNSUPPORTED`. */
export function unsupportedFunction(
  api: string,
  specifier: string,
  reason: string,
): (...args: any[]) => never {
  const fn = () => {
    throw unsupportedError(api, specifier, reason);
  };
  Object.defineProperty(fn, "name", { value: api });
  return fn;
}
