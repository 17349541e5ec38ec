import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";

/** Secrets read for local development, and the file they came from. */
export interface DevVars {
  path: string;
  values: Record<string, string>;
}

/**
 * Reads the local secrets file next to the config, as `wrangler dev` does: `.dev.vars.<env>`
 * when an environment is selected and that file exists, otherwise `.dev.vars`. Dotenv format
 * (`KEY=value`, `#` comments, quoted values). Returns undefined when there is no such file.
 */
export function readDevVars(dir: string, env: string | undefined): DevVars | undefined {
  const candidates = env === undefined ? [".dev.vars"] : [`.dev.vars.${env}`, ".dev.vars"];
  for (const name of candidates) {
    const path = join(dir, name);
    if (existsSync(path)) {
      return { path, values: parseEnv(readFileSync(path, "utf8")) as Record<string, string> };
    }
  }
  return undefined;
}
