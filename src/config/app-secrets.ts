import { readDevVars } from "./dev-vars.ts";

/** The app's secrets, and what to say about those that are missing. */
export interface AppSecrets {
  /** Name -> value, merged over `vars`. */
  readonly values: Record<string, string>;
  /** One line naming required secrets that are not set, and where to set them. */
  readonly warnings: string[];
}

/**
 * The app's secrets, as wrangler reads them for local development and Cloudflare keeps them for a
 * deployed Worker. Without `secrets.required`: in development (`stead dev`) every key of
 * `.dev.vars` (or `.dev.vars.<env>`), otherwise none. With `secrets.required` (the config's own
 * list of the secrets the Worker needs): exactly those names, from `.dev.vars` in development and
 * from the process's environment (`API_KEY=… stead start`, systemd `Environment=`, `docker run
 * -e`), which is how a deployed copy gets them without writing them into its config. Names that
 * are set nowhere are named in `warnings`, as wrangler warns of them.
 */
export function readAppSecrets(
  required: readonly string[] | undefined,
  configDir: string,
  options: {
    dev: boolean;
    env: string | undefined;
    processEnv: Record<string, string | undefined>;
  },
): AppSecrets {
  const devVars = options.dev ? readDevVars(configDir, options.env)?.values : undefined;
  if (required === undefined) return { values: { ...devVars }, warnings: [] };
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of required) {
    const value = devVars?.[name] ?? options.processEnv[name];
    if (value === undefined) missing.push(name);
    else values[name] = value;
  }
  if (missing.length === 0) return { values, warnings: [] };
  const them = missing.length === 1 ? "it" : "them";
  const where = options.dev
    ? `Add ${them} to .dev.vars, or set ${them} in the environment of stead dev`
    : `Set ${them} in the environment of stead start (${missing[0]}=… stead start, systemd Environment=, docker run -e)`;
  return {
    values,
    warnings: [
      `secrets.required: ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set, so ${missing.map((name) => `env.${name}`).join(", ")} will be undefined. ${where}.`,
    ],
  };
}
