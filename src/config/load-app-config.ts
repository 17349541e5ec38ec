import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { z } from "zod";
import { SteadError } from "../core/errors.ts";
import type { Migration } from "../core/migrations/migration.ts";
import { readAppSecrets } from "./app-secrets.ts";
import { unsafeRatelimits } from "./bindings-schema.ts";
import type { moduleRuleSchema } from "./build-schema.ts";
import { unhandledKeyWarnings } from "./config-keys.ts";
import { type FoundConfigFile, findConfigFile } from "./find-config-file.ts";
import { formatIssues, formatPath } from "./format-issues.ts";
import { parseConfigText } from "./parse-config-text.ts";
import {
  type WranglerConfig,
  type WranglerEnvironment,
  wranglerConfigSchema,
} from "./wrangler-schema.ts";

/**
 * The entry of an app with `assets` and no `main`: every request goes to the assets, as on
 * Cloudflare. (A file, not an import: it is bundled as the app's entry.)
 */
const ASSETS_ONLY_WORKER = fileURLToPath(
  new URL(
    `../bindings/assets/assets-only-worker${extname(new URL(import.meta.url).pathname)}`,
    import.meta.url,
  ),
);

/** Options of `loadAppConfig`. */
/** What a wrangler config says about running the app, as `createRuntime()` options. */
export interface AppRuntimeOptions {
  /** The entry module's absolute path. */
  main: string;
  /** The config's directory: the app is built from there. */
  cwd: string;
  /** How the app is bundled: `rules`, `define`, `alias`, `tsconfig`, `jsx_*`, `minify`, `keep_names`. */
  build: AppBuildKeys;
  /** `compatibility_flags`. */
  compatibilityFlags?: string[];
  /** Binding name -> exported class name. */
  durableObjects: Record<string, string>;
  vars: Record<string, unknown>;
  configPath: string;
  compatibilityDate?: string;
  /** `limits.cpu_ms`. */
  cpuLimitMs?: number;
  migrations?: Migration[];
  /** Tags from `STEAD_CONFIRM_DELETE`. */
  confirmDeletions?: string[];
  /** Classes with storage declared by `exports`, with their backend. */
  objectClasses?: Record<string, "sqlite" | "kv">;
  /** `assets`, its `directory` absolute. */
  assets?: AppAssets;
  /** `kv_namespaces`: binding and namespace id. */
  kv_namespaces?: AppKvNamespace[];
  /** `r2_buckets`: binding and bucket name. */
  r2_buckets?: { binding: string; bucket_name?: string }[];
  /** `d1_databases`, each `migrations_dir` absolute (default: `migrations` beside the config). */
  d1_databases?: AppD1Database[];
  /** `services` that name this Worker: binding, entrypoint, props. */
  services?: AppService[];
  /** `queues`: producers and consumers, as `createRuntime()`'s `queues` option. */
  queues?: AppQueues;
  /** `ratelimits`, then the Rate Limiting bindings of `unsafe.bindings`. */
  ratelimits?: AppRatelimit[];
}

/** One Rate Limiting binding (`ratelimits`, or `unsafe.bindings` of type "ratelimit"). */
export interface AppRatelimit {
  name: string;
  namespace_id: string | number;
  simple: { limit: number; period: 10 | 60 };
}

/** The config's `queues` key, as `createRuntime()` takes it (the keys Stead reads). */
export interface AppQueues {
  producers?: { queue: string; binding: string; delivery_delay?: number }[];
  consumers?: {
    queue: string;
    max_batch_size?: number;
    max_batch_timeout?: number;
    max_retries?: number;
    dead_letter_queue?: string;
    retry_delay?: number;
    max_concurrency?: number;
  }[];
}

/** The config's `assets` key, as `createRuntime()`'s `assets` option. */
export interface AppAssets {
  /** Absolute path. */
  directory: string;
  binding?: string;
  not_found_handling?: "single-page-application" | "404-page" | "none";
  html_handling?: "auto-trailing-slash" | "force-trailing-slash" | "drop-trailing-slash" | "none";
  run_worker_first?: boolean | string[];
}

/** One `d1_databases` entry, as `createRuntime()` takes it. */
export interface AppD1Database {
  binding: string;
  database_name?: string;
  database_id?: string;
  /** Absolute path. */
  migrations_dir: string;
  migrations_table?: string;
}

/** One `kv_namespaces` entry, as `createRuntime()` takes it. */
export interface AppKvNamespace {
  binding: string;
  id?: string;
}

/** One `services` entry, as `createRuntime()` takes it. */
export interface AppService {
  binding: string;
  service?: string;
  entrypoint?: string;
  props?: Record<string, unknown>;
}

/** The build keys of a wrangler config, as `createRuntime()`'s `build` option. */
export interface AppBuildKeys {
  rules?: z.infer<typeof moduleRuleSchema>[];
  define?: Record<string, string>;
  alias?: Record<string, string>;
  /** Absolute path. */
  tsconfig?: string;
  jsxFactory?: string;
  jsxFragment?: string;
  minify?: boolean;
  keepNames?: boolean;
  /** `NODE_ENV` if set, else "development" with `dev`, "production" without, as wrangler does. */
  nodeEnv: string;
}

/**
 * The config's `build` key: a command run before the app is bundled (by `stead start` once, by
 * `stead dev` at start and when a file under `watchDirs` changes), as wrangler runs it.
 */
export interface CustomBuild {
  /** `build.command`, run by the system shell. */
  readonly command: string;
  /** `build.cwd` (absolute; default: the config's directory): where the command runs. */
  readonly cwd: string;
  /** `build.watch_dir` (absolute; default: `./src` of the config's directory). */
  readonly watchDirs: readonly string[];
}

export interface LoadAppConfigOptions {
  /**
   * The entry module, overriding the config's `main` (an absolute path, or relative to the
   * process's cwd), as `wrangler dev src/index.ts` and `--main` do.
   */
  main?: string;
  /** A wrangler environment (`env.<name>` in the config), as `wrangler --env <name>` selects. */
  env?: string;
  /** Local development: also read secrets from `.dev.vars` (or `.dev.vars.<env>`). */
  dev?: boolean;
  /** Where `STEAD_*` variables are read from (default `process.env`). */
  processEnv?: Record<string, string | undefined>;
  /**
   * Read the config a build generated when `.wrangler/deploy/config.json` names one, as
   * wrangler's `deploy` and `dev` do (default true; `wrangler d1 migrations` does not).
   */
  followRedirect?: boolean;
}

/** An app's configuration, resolved and frozen. */
export interface AppConfig {
  /**
   * The config file read: the first of wrangler.json, wrangler.jsonc, wrangler.toml present, or
   * the config a build generated (`redirectedFrom`).
   */
  readonly configPath: string;
  /**
   * Set when `configPath` is the config a build generated: the `.wrangler/deploy/config.json`
   * that named it (wrangler's config redirect). `stead start` says so when it starts.
   */
  readonly redirectedFrom: string | undefined;
  /** Config files also present in the directory but not read (configPath wins). */
  readonly ignoredConfigPaths: readonly string[];
  /** The Worker's `name` (with `-<env>` appended under an environment, unless it sets its own). */
  readonly name: string | undefined;
  /** The selected environment, if any. */
  readonly env: string | undefined;
  /** Names of `vars` that came from `.dev.vars`: redact their values when showing config. */
  readonly secretNames: readonly string[];
  /** Options for `createRuntime`; add `dataDir` and the rest. */
  readonly runtimeOptions: Readonly<AppRuntimeOptions>;
  /** The `build` key, when it sets a `command`: run it before building the app. */
  readonly customBuild: CustomBuild | undefined;
  /**
   * One line per key set in the config (at the top level or in the selected environment) that
   * Stead does not handle, saying what the app will see instead: `stead start` logs them.
   */
  readonly warnings: readonly string[];
}

/**
 * Reads and validates the app's wrangler config (`wrangler.json`, `wrangler.jsonc` or
 * `wrangler.toml`, in wrangler's order of preference; or the config a build generated, when
 * `.wrangler/deploy/config.json` names one) and resolves it into `createRuntime` options.
 *
 * Keys read: `name`, `main` (resolved from the config's directory; the file must exist; not
 * needed when `options.main` names the entry, nor for an app of static assets only), `compatibility_date`, `compatibility_flags`,
 * `vars`, `durable_objects.bindings` (`name`, `class_name`; a `script_name` naming another
 * Worker is not supported), `assets` (inherited by environments; its directory must exist),
 * `kv_namespaces`, `r2_buckets`, `d1_databases`, `queues`, `services` (to this Worker's own
 * entrypoints), `ratelimits` (and `unsafe.bindings` of type "ratelimit"), `migrations`, the build keys (`rules`, `define`, `alias`,
 * `tsconfig`, `jsx_factory`, `jsx_fragment`, `minify`, `keep_names`), `build` (a custom build
 * command, as `customBuild`), and `env.<name>` with `options.env` (`main`, `compatibility_date`,
 * `compatibility_flags`, `migrations`, `name`, `build` and
 * the build keys but `define` and `alias` are inherited from the top level; `vars`,
 * `durable_objects` and `define` are not, and `alias` is read at the top level only, as in
 * wrangler). Every other key is accepted; those that change what the app would see on
 * Cloudflare are named in `warnings`.
 * With `options.dev`, `.dev.vars` is read and merged over `vars`. `STEAD_CONFIRM_DELETE`
 * (comma-separated migration tags) becomes `confirmDeletions`.
 *
 * @example
 * const config = await loadAppConfig("./my-app", { dev: true });
 * await using rt = await createRuntime({ ...config.runtimeOptions, dataDir: "./my-app/.stead" });
 */
export async function loadAppConfig(
  dir: string,
  options: LoadAppConfigOptions = {},
): Promise<AppConfig> {
  const found = findConfigFile(dir, { followRedirect: options.followRedirect ?? true });
  const configPath = found.path;
  const parsed = parseConfigText(configPath, readFileSync(configPath, "utf8"));
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalid(
      `${configPath}: expected an object at the top level, like { "name": "my-worker", "main": "src/index.ts" }`,
    );
  }
  const result = wranglerConfigSchema.safeParse(parsed, { reportInput: true });
  if (!result.success) throw invalid(formatIssues(configPath, result.error.issues));
  const config = result.data;

  let selected: WranglerEnvironment = config;
  let envPath = "";
  let name = config.name;
  let migrations = config.migrations;
  let declaredExports = config.exports;
  let main = config.main;
  let compatibilityDate = config.compatibility_date;
  let compatibilityFlags = config.compatibility_flags;
  let cpuLimitMs = config.limits?.cpu_ms;
  let customBuildKey = config.build;
  let assetsKey = config.assets;
  let inherited = buildKeys(config);
  if (options.env !== undefined) {
    const envs = config.env ?? {};
    const chosen = envs[options.env];
    if (chosen === undefined) {
      const known = Object.keys(envs);
      throw invalid(
        `${configPath}: env.${options.env}: there is no environment "${options.env}" (${known.length === 0 ? "the config defines none" : `defined: ${known.join(", ")}`}). Add it under "env", or choose another environment.`,
      );
    }
    selected = chosen;
    envPath = `env.${options.env}.`;
    name = chosen.name ?? (name === undefined ? undefined : `${name}-${options.env}`);
    migrations = chosen.migrations ?? migrations;
    declaredExports = chosen.exports ?? declaredExports;
    main = chosen.main ?? main;
    compatibilityDate = chosen.compatibility_date ?? compatibilityDate;
    compatibilityFlags = chosen.compatibility_flags ?? compatibilityFlags;
    cpuLimitMs = chosen.limits?.cpu_ms ?? cpuLimitMs;
    customBuildKey = chosen.build ?? customBuildKey;
    assetsKey = chosen.assets ?? assetsKey;
    inherited = { ...inherited, ...definedOnly(buildKeys(chosen)) };
  }

  const configDir = dirname(configPath);
  if (options.main !== undefined) {
    const mainPath = resolve(options.main);
    if (!existsSync(mainPath) || !statSync(mainPath).isFile()) {
      throw invalid(
        `The entry module ${mainPath} does not exist. Pass the path of the Worker's entry module (relative to the current directory).`,
      );
    }
  } else if (main === undefined && assetsKey === undefined) {
    throw invalid(
      `${configPath}: main: is required: the Worker's entry module, relative to the config file, e.g. "main": "src/index.ts". Or pass the entry on the command line: stead dev src/index.ts, or --main src/index.ts.`,
    );
  }
  const mainPath =
    options.main !== undefined
      ? resolve(options.main)
      : main === undefined
        ? ASSETS_ONLY_WORKER
        : resolve(configDir, main);
  if (!existsSync(mainPath) || !statSync(mainPath).isFile()) {
    throw invalid(
      `${configPath}: ${options.env !== undefined && selected.main !== undefined ? envPath : ""}main: the entry module ${mainPath} does not exist. Fix "main" (it is resolved from the config file's directory), or create the file.`,
    );
  }

  const durableObjects: Record<string, string> = {};
  const bindings = selected.durable_objects?.bindings ?? [];
  bindings.forEach((binding, index) => {
    const where = `${configPath}: ${envPath}${formatPath(["durable_objects", "bindings", index])}`;
    if (binding.script_name !== undefined && binding.script_name !== name) {
      throw new SteadError(
        "CONFIG_UNSUPPORTED",
        `${where} (${binding.name}): script_name "${binding.script_name}" binds a class of another Worker, which is not supported yet: Stead runs one Worker. Remove script_name to bind a class this Worker exports.`,
      );
    }
    if (binding.name in durableObjects) {
      throw invalid(
        `${where}.name: the binding name ${binding.name} is used twice. Give each binding its own name.`,
      );
    }
    durableObjects[binding.name] = binding.class_name;
  });

  const assets = assetsFrom(
    assetsKey,
    configPath,
    configDir,
    assetsKey === config.assets ? "" : envPath,
  );
  const kvNamespaces = (selected.kv_namespaces ?? []).map(({ binding, id }) => ({
    binding,
    ...(id === undefined ? {} : { id }),
  }));
  const r2Buckets = (selected.r2_buckets ?? []).map(({ binding, bucket_name }) => ({
    binding,
    ...(bucket_name === undefined ? {} : { bucket_name }),
  }));
  const d1Databases = (selected.d1_databases ?? []).map((entry) => ({
    ...definedOnly({
      database_name: entry.database_name,
      database_id: entry.database_id,
      migrations_table: entry.migrations_table,
    }),
    binding: entry.binding,
    migrations_dir: resolve(configDir, entry.migrations_dir ?? "migrations"),
  }));
  const queues = queuesFrom(selected.queues);
  const ratelimits = [
    ...(selected.ratelimits ?? []).map((entry) => ({ entry, key: "ratelimits" })),
    ...unsafeRatelimits(selected.unsafe).map((entry) => ({ entry, key: "unsafe.bindings" })),
  ].map(({ entry: { name, namespace_id, simple }, key }) => ({
    key,
    binding: { name, namespace_id, simple: { limit: simple.limit, period: simple.period } },
  }));
  const services = (selected.services ?? []).map((entry, index) => {
    if (entry.service !== name) {
      throw new SteadError(
        "CONFIG_UNSUPPORTED",
        `${configPath}: ${envPath}services[${index}] (${entry.binding}): service "${entry.service ?? ""}" names ${name === undefined ? "a Worker, and this config has no name" : `another Worker than this one ("${name}")`}; Stead runs one Worker, so only bindings to its own entrypoints are supported. Set "service" to this Worker's name (and "entrypoint" to one of its exports), or remove the binding.`,
      );
    }
    return {
      binding: entry.binding,
      service: entry.service,
      ...(entry.entrypoint === undefined ? {} : { entrypoint: entry.entrypoint }),
      ...(entry.props === undefined ? {} : { props: entry.props }),
    };
  });
  checkBindingNames(configPath, envPath, [
    ...Object.keys(durableObjects).map((n) => ({ name: n, key: "durable_objects.bindings" })),
    ...kvNamespaces.map(({ binding }) => ({ name: binding, key: "kv_namespaces" })),
    ...services.map(({ binding }) => ({ name: binding, key: "services" })),
    ...r2Buckets.map(({ binding }) => ({ name: binding, key: "r2_buckets" })),
    ...d1Databases.map(({ binding }) => ({ name: binding, key: "d1_databases" })),
    ...(queues?.producers ?? []).map(({ binding }) => ({ name: binding, key: "queues.producers" })),
    ...ratelimits.map(({ binding, key }) => ({ name: binding.name, key })),
    ...(assets?.binding === undefined ? [] : [{ name: assets.binding, key: "assets.binding" }]),
  ]);

  const processEnv = options.processEnv ?? process.env;
  const secrets = readAppSecrets(selected.secrets?.required, configDir, {
    dev: options.dev === true,
    env: options.env,
    processEnv,
  });
  const vars: Record<string, unknown> = { ...selected.vars, ...secrets.values };

  const confirm = processEnv.STEAD_CONFIRM_DELETE;
  const confirmDeletions = (confirm ?? "")
    .split(",")
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "");

  const build: AppBuildKeys = {
    ...definedOnly({
      ...inherited,
      define: selected.define,
      alias: config.alias,
      tsconfig:
        inherited.tsconfig === undefined ? undefined : resolve(configDir, inherited.tsconfig),
    }),
    nodeEnv: processEnv.NODE_ENV || (options.dev === true ? "development" : "production"),
  };
  const runtimeOptions: AppRuntimeOptions = {
    main: mainPath,
    cwd: configDir,
    build,
    ...(compatibilityFlags === undefined ? {} : { compatibilityFlags }),
    durableObjects,
    vars,
    configPath,
    ...(compatibilityDate === undefined ? {} : { compatibilityDate }),
    ...(cpuLimitMs === undefined ? {} : { cpuLimitMs }),
    ...(migrations === undefined ? {} : { migrations: migrations as Migration[] }),
    ...(confirmDeletions.length === 0 ? {} : { confirmDeletions }),
    ...(declaredExports === undefined
      ? {}
      : { objectClasses: objectClasses(configPath, declaredExports) }),
    ...(assets === undefined ? {} : { assets }),
    ...(kvNamespaces.length === 0 ? {} : { kv_namespaces: kvNamespaces }),
    ...(services.length === 0 ? {} : { services }),
    ...(r2Buckets.length === 0 ? {} : { r2_buckets: r2Buckets }),
    ...(d1Databases.length === 0 ? {} : { d1_databases: d1Databases }),
    ...(queues === undefined ? {} : { queues }),
    ...(ratelimits.length === 0 ? {} : { ratelimits: ratelimits.map(({ binding }) => binding) }),
  };
  return deepFreeze({
    configPath,
    ignoredConfigPaths: found.ignored,
    redirectedFrom: found.redirect?.deployConfig,
    name,
    env: options.env,
    secretNames: Object.keys(secrets.values),
    runtimeOptions,
    customBuild: customBuildFrom(customBuildKey, configDir),
    warnings: [
      ...staleRedirectWarnings(found),
      ...secrets.warnings.map((warning) => `${configPath}: ${envPath}${warning}`),
      ...unhandledKeyWarnings(configPath, parsed as Record<string, unknown>),
      ...(options.env === undefined
        ? []
        : unhandledKeyWarnings(
            configPath,
            (parsed as { env: Record<string, Record<string, unknown>> }).env[options.env] ?? {},
            envPath,
          )),
    ],
  });
}

/**
 * A generated config older than the user's: the user changed their config after the build that
 * wrote it, and what they changed is not what runs.
 */
function staleRedirectWarnings(found: FoundConfigFile): string[] {
  const user = found.redirect?.userConfig;
  if (user === undefined || statSync(user).mtimeMs <= statSync(found.path).mtimeMs) return [];
  return [
    `${user} changed after the build wrote ${found.path}, which is the config read (named by ${found.redirect!.deployConfig}). Run the app's build again, or delete that file to read ${user}.`,
  ];
}

/** The `assets` key with its directory resolved from the config's directory, which must exist. */
function assetsFrom(
  key: WranglerEnvironment["assets"],
  configPath: string,
  configDir: string,
  envPath: string,
): AppAssets | undefined {
  if (key === undefined) return undefined;
  const directory = resolve(configDir, key.directory);
  if (!existsSync(directory) || !statSync(directory).isDirectory()) {
    throw invalid(
      `${configPath}: ${envPath}assets.directory: ${directory} is not a directory. Create it, or fix "directory" (it is resolved from the config file's directory).`,
    );
  }
  return {
    directory,
    ...(key.binding === undefined ? {} : { binding: key.binding }),
    ...(key.not_found_handling === undefined ? {} : { not_found_handling: key.not_found_handling }),
    ...(key.html_handling === undefined ? {} : { html_handling: key.html_handling }),
    ...(key.run_worker_first === undefined ? {} : { run_worker_first: key.run_worker_first }),
  };
}

/** The `queues` key with only the keys Stead reads (`createRuntime()` refuses others). */
function queuesFrom(key: WranglerEnvironment["queues"]): AppQueues | undefined {
  if (key === undefined) return undefined;
  const producers = (key.producers ?? []).map((entry) => ({
    queue: entry.queue,
    binding: entry.binding,
    ...definedOnly({ delivery_delay: entry.delivery_delay }),
  }));
  const consumers = (key.consumers ?? []).map((entry) => ({
    queue: entry.queue,
    ...definedOnly({
      max_batch_size: entry.max_batch_size,
      max_batch_timeout: entry.max_batch_timeout,
      max_retries: entry.max_retries,
      dead_letter_queue: entry.dead_letter_queue,
      retry_delay: entry.retry_delay,
      max_concurrency: entry.max_concurrency,
    }),
  }));
  if (producers.length + consumers.length === 0) return undefined;
  return {
    ...(producers.length === 0 ? {} : { producers }),
    ...(consumers.length === 0 ? {} : { consumers }),
  };
}

/** Every binding name is used once, whatever kind of binding it is. */
function checkBindingNames(
  configPath: string,
  envPath: string,
  names: readonly { name: string; key: string }[],
): void {
  const seen = new Map<string, string>();
  for (const { name, key } of names) {
    const first = seen.get(name);
    if (first !== undefined) {
      throw invalid(
        `${configPath}: ${envPath}${key}: the binding name ${name} is also used by ${first}. Give each binding its own name.`,
      );
    }
    seen.set(name, key);
  }
}

/** The build keys an environment inherits from the top level. */
function buildKeys(config: WranglerEnvironment) {
  return {
    rules: config.rules,
    tsconfig: config.tsconfig,
    jsxFactory: config.jsx_factory,
    jsxFragment: config.jsx_fragment,
    minify: config.minify,
    keepNames: config.keep_names,
  };
}

/** The `build` key resolved from the config's directory, or undefined without a command. */
function customBuildFrom(
  key: WranglerEnvironment["build"],
  configDir: string,
): CustomBuild | undefined {
  if (key?.command === undefined) return undefined;
  const watchDir = key.watch_dir ?? "./src";
  return {
    command: key.command,
    cwd: resolve(configDir, key.cwd ?? "."),
    watchDirs: (Array.isArray(watchDir) ? watchDir : [watchDir]).map((dir) =>
      resolve(configDir, dir),
    ),
  };
}

/** `object` without its undefined members. */
function definedOnly<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

/**
 * The live classes of wrangler's declarative `exports`, with their backend. The lifecycle
 * states (deleted, renamed, transferred) are refused: the `migrations` list does those in Stead.
 */
function objectClasses(
  configPath: string,
  declared: NonNullable<WranglerConfig["exports"]>,
): Record<string, "sqlite" | "kv"> {
  const classes: Record<string, "sqlite" | "kv"> = {};
  for (const [name, entry] of Object.entries(declared)) {
    if (entry.state !== undefined && entry.state !== "created") {
      throw new SteadError(
        "CONFIG_UNSUPPORTED",
        `${configPath}: exports.${name}.state: "${entry.state}" is not supported yet: Stead reads live classes from exports. Delete or rename a class with a migration instead (deleted_classes, renamed_classes in "migrations").`,
      );
    }
    classes[name] = entry.storage === "legacy-kv" ? "kv" : "sqlite";
  }
  return classes;
}

function invalid(message: string): SteadError {
  return new SteadError("INVALID_CONFIG", message);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
