/**
 * `cloudflare:br`: importable, so code that imports it at top level loads; Stead has no Browser
 * Rendering, so constructing `BrowserRendering` throws `API_UNSUPPORTED`.
 */
import { unsupportedClass } from "./unsupported.ts";

export const BrowserRendering = unsupportedClass(
  "BrowserRendering",
  "cloudflare:br",
  "Browser Rendering is a Cloudflare service (browser bindings)",
);
