import { isUnsafeRatelimit } from "./bindings-schema.ts";

/**
 * Every key of a wrangler config and what Stead does with it. One table feeds the startup
 * warnings (`unhandledKeyWarnings`) and is checked against docs/compatibility.md by a test, so
 * the two cannot drift apart.
 */

/** How Stead treats a config key. */
export type KeySupport =
  /** Read and honoured as on Cloudflare. */
  | "supported"
  /** Read; some of what it may say is honoured, the rest is named in `note`. */
  | "partial"
  /** Only matters when deploying to Cloudflare (routes, accounts, logging): ignored silently. */
  | "deploy-only"
  /** Changes what the app sees on Cloudflare, and Stead does not do it: a warning at startup. */
  | "unsupported";

export interface ConfigKey {
  readonly key: string;
  readonly support: KeySupport;
  /** What differs from Cloudflare, or what the app sees when the key is set and unsupported. */
  readonly note: string;
  /**
   * Where the binding names sit in the key's value, for "env.X will be undefined": a path of
   * property names, `[]` standing for "each element".
   */
  readonly bindings?: readonly string[];
  /**
   * For a partial key whose value may also hold what Stead does not provide: `part` keeps that
   * part of the value (empty when there is none), warned about at startup as an unsupported key
   * is, with `note` saying what is provided.
   */
  readonly unhandled?: { readonly part: (value: unknown) => unknown; readonly note: string };
}

function key(
  name: string,
  support: KeySupport,
  note: string,
  bindings?: readonly string[],
  unhandled?: ConfigKey["unhandled"],
): ConfigKey {
  return {
    key: name,
    support,
    note,
    ...(bindings === undefined ? {} : { bindings }),
    ...(unhandled === undefined ? {} : { unhandled }),
  };
}

/** `unsafe` without the Rate Limiting bindings Stead provides. */
function unsafeUnhandled(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  const { bindings, ...rest } = value as { bindings?: unknown };
  if (!Array.isArray(bindings)) return value;
  return { ...rest, bindings: bindings.filter((entry) => !isUnsafeRatelimit(entry)) };
}

const BINDING_LATER = "The binding is not provided yet.";
const GENERATED =
  "Bookkeeping wrangler writes into the configs builds generate (`.wrangler/deploy/config.json`).";

/** Every top-level key wrangler documents (https://developers.cloudflare.com/workers/wrangler/configuration/). */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  key("name", "supported", "The Worker's name; `-<env>` appended under an environment."),
  key(
    "main",
    "supported",
    "The entry module, bundled with esbuild as wrangler does; an app of static assets only (`assets`, no `main`) has none.",
  ),
  key("compatibility_date", "supported", "Selects dated behaviour where Stead implements it."),
  key(
    "compatibility_flags",
    "partial",
    "`nodejs_compat` / `nodejs_compat_v2` let the app import Node built-ins by bare name (`fs`); `node:*` imports work without them; other flags are accepted and have no effect.",
  ),
  key(
    "vars",
    "supported",
    "Plain values in `env`; `.dev.vars` is merged over them in `stead dev`.",
  ),
  key(
    "durable_objects",
    "partial",
    "`bindings` with `name` and `class_name`; `script_name` naming another Worker is refused at startup.",
  ),
  key("migrations", "supported", "All migration kinds but `transferred_classes` (refused)."),
  key(
    "exports",
    "partial",
    "Declarative Durable Object classes: live ones (`storage` `sqlite` or `legacy-kv`) get storage, bound or not, and `ctx.exports` reaches them; the states `deleted`, `renamed` and `transferred` are refused at startup (use `migrations` for those).",
  ),
  key("limits", "partial", "`cpu_ms` is enforced on object threads; `subrequests` is ignored."),
  key("env", "supported", "Environments, selected with `--env` as `wrangler --env` does."),
  key("rules", "supported", "Module rules: Text, Data, CompiledWasm, ESModule, CommonJS."),
  key("define", "supported", "Replaced in the bundle as esbuild's `define`."),
  key("alias", "supported", "Module aliases, as esbuild's `alias`."),
  key("tsconfig", "supported", "The tsconfig esbuild reads (`paths`, JSX settings)."),
  key("jsx_factory", "supported", "Passed to esbuild."),
  key("jsx_fragment", "supported", "Passed to esbuild."),
  key("minify", "supported", "Passed to esbuild."),
  key("keep_names", "supported", "Passed to esbuild (on by default, as in wrangler)."),
  key(
    "build",
    "supported",
    "`command` runs in `cwd` before the app is bundled: once by `stead start`, and by `stead dev` at start and on a change under `watch_dir`.",
  ),
  key(
    "find_additional_modules",
    "partial",
    "Not read: dynamic `import()`s whose path esbuild can see are bundled; a module reachable only through a computed path is not found.",
  ),
  key("base_dir", "deploy-only", "Names of uploaded modules; Stead bundles the app into one."),
  key("preserve_file_names", "deploy-only", "Names of uploaded module files."),
  key(
    "no_bundle",
    "partial",
    "Stead always bundles the entry with esbuild: an entry a build already bundled (as the Cloudflare Vite plugin's output, which sets `no_bundle`) is bundled again, which keeps its behaviour.",
  ),
  key(
    "triggers",
    "unsupported",
    "Cron triggers never fire: the Worker's `scheduled` handler is not called.",
  ),
  key(
    "assets",
    "supported",
    "`directory`, `binding`, `not_found_handling`, `html_handling`, `run_worker_first`, `_headers` and `_redirects`, served before the Worker as on Cloudflare; `.assetsignore` is not read (Stead never serves `_headers`, `_redirects`, `_worker.js`, `.assetsignore`, `node_modules`, `.git`). See docs/bindings.md.",
  ),
  key("site", "unsupported", "Workers Sites: `__STATIC_CONTENT` is undefined."),
  key(
    "kv_namespaces",
    "supported",
    "`binding` and `id`, stored in `<dataDir>/kv.sqlite` (namespaces with the same `id` share their keys); `preview_id` and `remote` are ignored. See docs/bindings.md.",
  ),
  key(
    "r2_buckets",
    "supported",
    "`binding` and `bucket_name` (default: the binding name; buckets of one name share their objects): metadata in `<dataDir>/r2.sqlite`, bytes in `<dataDir>/r2-blobs/`; `preview_bucket_name`, `jurisdiction` and `remote` are ignored. See docs/bindings.md.",
  ),
  key(
    "d1_databases",
    "supported",
    "`binding`, `database_id` / `database_name` (bindings naming the same database share it), `migrations_dir` and `migrations_table` (`stead d1 migrations apply`): each database is a Durable Object with its own SQLite database, stored by the same driver as the app's objects; `preview_database_id` and `remote` are ignored. See docs/bindings.md.",
  ),
  key(
    "services",
    "partial",
    "Bindings to this Worker's own entrypoints (`service` equal to its `name`): `entrypoint` and `props` (`ctx.props`), `fetch` and RPC. A `service` naming another Worker stops startup: Stead runs one Worker. See docs/bindings.md.",
  ),
  key(
    "queues",
    "supported",
    "`producers` (`queue`, `binding`, `delivery_delay`) and `consumers` (`queue`, `max_batch_size`, `max_batch_timeout`, `max_retries`, `dead_letter_queue`, `retry_delay`, `max_concurrency`) for this Worker's `queue` handler: messages in `<dataDir>/queues.sqlite`, or in NATS JetStream with `--queues`. A consumer handles one batch at a time unless `max_concurrency` says more (Cloudflare scales up by backlog); HTTP pull consumers (`type: http_pull`) stop startup. See docs/bindings.md.",
  ),
  key("workflows", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("analytics_engine_datasets", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("ai", "unsupported", BINDING_LATER, ["binding"]),
  key("browser", "unsupported", BINDING_LATER, ["binding"]),
  key("images", "unsupported", BINDING_LATER, ["binding"]),
  key("vectorize", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("hyperdrive", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("mtls_certificates", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("send_email", "unsupported", BINDING_LATER, ["[]", "name"]),
  key("dispatch_namespaces", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("pipelines", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("secrets_store_secrets", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key(
    "ratelimits",
    "partial",
    "`name`, `namespace_id` (bindings with the same id share their counters) and `simple` (`limit`, `period` of 10 or 60): `limit({ key })` counts in fixed windows, in memory, on each thread apart (the Worker's handlers on the main thread, each object thread for its objects) and from zero after a restart, as Cloudflare counts per location. See docs/bindings.md.",
  ),
  key("worker_loaders", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("vpc_services", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("version_metadata", "unsupported", BINDING_LATER, ["binding"]),
  key("ai_search", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("ai_search_namespaces", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("agent_memory", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("artifacts", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("flagship", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("vpc_networks", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key("analytics", "unsupported", BINDING_LATER, ["binding"]),
  key("media", "unsupported", BINDING_LATER, ["binding"]),
  key("stream", "unsupported", BINDING_LATER, ["binding"]),
  key("websearch", "unsupported", BINDING_LATER, ["binding"]),
  key("unsafe_hello_world", "unsupported", BINDING_LATER, ["[]", "binding"]),
  key(
    "containers",
    "unsupported",
    "Containers are not started; their Durable Object classes run without one.",
  ),
  key(
    "wasm_modules",
    "unsupported",
    "Service-worker globals: not defined (Stead runs module Workers).",
  ),
  key(
    "text_blobs",
    "unsupported",
    "Service-worker globals: not defined (Stead runs module Workers).",
  ),
  key(
    "data_blobs",
    "unsupported",
    "Service-worker globals: not defined (Stead runs module Workers).",
  ),
  key("python_modules", "unsupported", "Python Workers do not run on Stead."),
  key(
    "node_compat",
    "unsupported",
    'Legacy polyfills are not injected; use `compatibility_flags: ["nodejs_compat"]`.',
  ),
  key(
    "unsafe",
    "partial",
    "`bindings` of `type` `ratelimit` are Rate Limiting bindings, read as `ratelimits` entries; other unsafe bindings are undefined and `metadata` is ignored, which a startup warning says.",
    ["bindings", "[]", "name"],
    {
      part: unsafeUnhandled,
      note: 'only its bindings of type "ratelimit" are provided; other bindings and metadata are ignored',
    },
  ),
  key("tail_consumers", "unsupported", "Tail Workers are not called."),
  key("streaming_tail_consumers", "unsupported", "Tail Workers are not called."),
  key(
    "dev",
    "deploy-only",
    "`wrangler dev` settings; `stead dev` takes flags (`--port`, `--host`).",
  ),
  key("account_id", "deploy-only", "Deployment."),
  key("workers_dev", "deploy-only", "Deployment."),
  key("preview_urls", "deploy-only", "Deployment."),
  key("route", "deploy-only", "Deployment: Stead serves every path it receives."),
  key("routes", "deploy-only", "Deployment: Stead serves every path it receives."),
  key("usage_model", "deploy-only", "Deployment."),
  key("placement", "deploy-only", "Deployment."),
  key("logpush", "deploy-only", "Deployment."),
  key("observability", "deploy-only", "Deployment: Stead logs to stdout."),
  key("upload_source_maps", "deploy-only", "Deployment: Stead always maps stack traces."),
  key("compliance_region", "deploy-only", "Deployment."),
  key("send_metrics", "deploy-only", "Wrangler telemetry."),
  key("keep_vars", "deploy-only", "Deployment."),
  key("first_party_worker", "deploy-only", "Deployment."),
  key("logfwdr", "deploy-only", "Deployment."),
  key("legacy_env", "deploy-only", "Deployment naming of environments."),
  key("cloudchamber", "deploy-only", "Deployment."),
  key(
    "secrets",
    "supported",
    "`required` lists the secrets the Worker needs: exactly those are read, from `.dev.vars` in `stead dev` and from the process's environment in `stead start` (how a deployed copy gets them); any that is set nowhere is named at startup. See docs/configuration.md (Secrets).",
  ),
  key("$schema", "deploy-only", "Editor schema."),
  key("configPath", "deploy-only", GENERATED),
  key("userConfigPath", "deploy-only", GENERATED),
  key("topLevelName", "deploy-only", GENERATED),
  key("definedEnvironments", "deploy-only", GENERATED),
  key("targetEnvironment", "deploy-only", GENERATED),
];

const BY_KEY = new Map(CONFIG_KEYS.map((entry) => [entry.key, entry]));

/** What Stead does with `name`, or undefined for a key wrangler does not define. */
export function configKey(name: string): ConfigKey | undefined {
  return BY_KEY.get(name);
}

/**
 * One line per key that is set in `section` (the config's top level or `env.<name>`) and that
 * Stead does not handle, saying what the app will see instead. Unknown keys are named too, since
 * they are usually a typo.
 */
export function unhandledKeyWarnings(
  configPath: string,
  section: Record<string, unknown>,
  prefix = "",
): string[] {
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(section)) {
    if (prefix === "" && name === "env") continue;
    // Generated configs spell out every key, mostly empty (`workflows: []`, `triggers: {}`).
    if (isEmpty(value)) continue;
    const entry = BY_KEY.get(name);
    if (entry === undefined) {
      warnings.push(
        `${configPath}: ${prefix}${name} is not a wrangler config key; Stead ignores it. Check its spelling.`,
      );
      continue;
    }
    const unhandled = entry.unhandled === undefined ? value : entry.unhandled.part(value);
    if (entry.support !== "unsupported" && (entry.unhandled === undefined || isEmpty(unhandled))) {
      continue;
    }
    const names = entry.bindings === undefined ? [] : bindingNames(unhandled, entry.bindings);
    const undefinedNames =
      names.length === 0
        ? []
        : [`${names.map((binding) => `env.${binding}`).join(", ")} will be undefined`];
    const note = (entry.unhandled?.note ?? entry.note).replace(/\.$/, "");
    const notes =
      names.length === 0 ? [note] : entry.note === BINDING_LATER ? [] : [lowerFirst(note)];
    const support = entry.support === "partial" ? "only partly supported" : "not supported";
    warnings.push(
      `${configPath}: ${prefix}${name} is ${support} by Stead: ${[...undefinedNames, ...notes].join("; ")}. See docs/compatibility.md#config-keys`,
    );
  }
  return warnings;
}

/** Null, false, `[]`, `{}`, or an object of such values (`{ crons: [] }`): says nothing. */
function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === "object") return Object.values(value).every(isEmpty);
  return false;
}

function bindingNames(value: unknown, path: readonly string[]): string[] {
  if (path.length === 0) return typeof value === "string" ? [value] : [];
  const [step, ...rest] = path;
  if (step === "[]") {
    return Array.isArray(value) ? value.flatMap((item) => bindingNames(item, rest)) : [];
  }
  if (value === null || typeof value !== "object") return [];
  return bindingNames((value as Record<string, unknown>)[step as string], rest);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
