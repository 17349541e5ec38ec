import { SteadError } from "../core/errors.ts";
import { siblingModule } from "../core/sibling-module.ts";

/**
 * The `cloudflare:*` modules Stead serves, by specifier. Those whose service Stead lacks
 * (`cloudflare:email`, `cloudflare:ai`, ...) still resolve, so an app that imports one at top
 * level loads; using them throws `API_UNSUPPORTED`.
 */
const MODULES: Readonly<Record<string, string>> = {
  "cloudflare:workers": "workers",
  "cloudflare:sockets": "sockets",
  "cloudflare:email": "email",
  "cloudflare:workflows": "workflows",
  "cloudflare:ai": "ai",
  "cloudflare:vectorize": "vectorize",
  "cloudflare:pipelines": "pipelines",
  "cloudflare:node": "node",
  "cloudflare:br": "br",
};

/** Every `cloudflare:*` specifier that resolves. */
export const CLOUDFLARE_SPECIFIERS: readonly string[] = Object.keys(MODULES);

/** True for a specifier in Cloudflare's `cloudflare:` scheme. */
export function isCloudflareSpecifier(specifier: string): boolean {
  return specifier.startsWith("cloudflare:");
}

/** The URL of Stead's module for a `cloudflare:*` specifier; throws `UNKNOWN_MODULE` for others. */
export function cloudflareModuleUrl(specifier: string): string {
  const path = MODULES[specifier];
  if (path === undefined) {
    throw new SteadError(
      "UNKNOWN_MODULE",
      `Cannot find module "${specifier}": Stead provides ${CLOUDFLARE_SPECIFIERS.join(", ")}. Check the specifier's spelling; see docs/compatibility.md#cloudflare-modules.`,
    );
  }
  return siblingModule(path, import.meta.url).href;
}
