import { SteadError } from "../core/errors.ts";

/**
 * The `cloudflare:*` modules Stead serves, by specifier. Those whose service Stead lacks
 * (`cloudflare:email`, `cloudflare:ai`, ...) still resolve, so an app that imports one at top
 * level loads; using them throws `API_UNSUPPORTED`.
 */
const MODULES: Readonly<Record<string, string>> = {
  "cloudflare:workers": "./workers.ts",
  "cloudflare:sockets": "./sockets.ts",
  "cloudflare:email": "./email.ts",
  "cloudflare:workflows": "./workflows.ts",
  "cloudflare:ai": "./ai.ts",
  "cloudflare:vectorize": "./vectorize.ts",
  "cloudflare:pipelines": "./pipelines.ts",
  "cloudflare:node": "./node.ts",
  "cloudflare:br": "./br.ts",
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
  return new URL(path, import.meta.url).href;
}
