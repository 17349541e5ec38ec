import { extname } from "node:path";

/**
 * The URL of the module `name` (without extension) beside the module at `base`
 * (`import.meta.url`), with `base`'s own extension: `.ts` when Stead runs from its sources, `.js`
 * when it runs from its build. Use it for modules loaded by URL (worker entries, child process
 * scripts, modules served under another specifier) rather than imported.
 */
export function siblingModule(name: string, base: string): URL {
  return new URL(`./${name}${extname(new URL(base).pathname)}`, base);
}
