// What createRuntime() settles before anything runs: options that cannot go together, and the
// namespaces the data directory records once the configured migrations are applied.
import { D1_CLASS_NAME } from "../bindings/d1/index.ts";
import type { RateLimitBindingOptions } from "../bindings/ratelimit/index.ts";
import { SteadError } from "../core/errors.ts";
import { formatOptionProblems } from "../core/invalid-options.ts";
import { applyMigrationPlan } from "../core/migrations/apply-migrations.ts";
import type { ClassBinding } from "../core/migrations/migration.ts";
import { planMigrations } from "../core/migrations/plan-migrations.ts";
import type { NamespaceRecord, StorageDriver } from "../core/storage/driver.ts";
import { bindingNameProblems } from "./bindings.ts";
import type { ResolvedRuntimeOptions } from "./runtime-options.ts";

/** Options that only make sense with objects on this thread are refused with threads. */
export function checkThreadOptions(config: ResolvedRuntimeOptions): void {
  if ((config.threads ?? 0) === 0) return;
  const problems: string[] = [];
  if (typeof config.main !== "string" && !(config.main instanceof URL)) {
    problems.push(
      "main: must be a path or URL with threads (each object thread imports the module itself)",
    );
  }
  if (config.driver !== undefined) {
    problems.push("driver: object threads use the default local driver; remove driver or threads");
  }
  if (config.clock !== undefined) {
    problems.push("clock: an injected clock cannot reach object threads; remove clock or threads");
  }
  if (problems.length > 0) {
    throw new SteadError("INVALID_CONFIG", formatOptionProblems("createRuntime()", problems));
  }
}

/** Every binding name is used once; KV needs a directory to live in. */
export function checkBindingOptions(config: ResolvedRuntimeOptions): void {
  const problems = bindingNameProblems([
    ...Object.keys(config.vars ?? {}).map((name) => ({ name, option: "vars" })),
    ...Object.keys(config.durableObjects ?? {}).map((name) => ({ name, option: "durableObjects" })),
    ...(config.kv_namespaces ?? []).map(({ binding }) => ({
      name: binding,
      option: "kv_namespaces",
    })),
    ...(config.services ?? []).map(({ binding }) => ({ name: binding, option: "services" })),
    ...(config.r2_buckets ?? []).map(({ binding }) => ({ name: binding, option: "r2_buckets" })),
    ...(config.d1_databases ?? []).map(({ binding }) => ({
      name: binding,
      option: "d1_databases",
    })),
    ...(config.queues?.producers ?? []).map(({ binding }) => ({
      name: binding,
      option: "queues.producers",
    })),
    ...(config.ratelimits ?? []).map(({ name }) => ({ name, option: "ratelimits" })),
    ...(config.assets?.binding === undefined
      ? []
      : [{ name: config.assets.binding, option: "assets.binding" }]),
  ]);
  problems.push(...sharedNamespaceProblems(config.ratelimits ?? []));
  // KV and R2 keep their files in the data directory, which a custom driver does not name.
  if (config.driver !== undefined && config.dataDir === undefined) {
    if ((config.r2_buckets ?? []).length > 0) {
      problems.push(
        "r2_buckets: R2 objects live in <dataDir>/r2.sqlite and <dataDir>/r2-blobs; with a driver, give dataDir too",
      );
    }
    const { producers = [], consumers = [] } = config.queues ?? {};
    if (producers.length + consumers.length > 0 && config.queuesUrl === undefined) {
      problems.push(
        "queues: queues live in <dataDir>/queues.sqlite; with a driver, give dataDir too (or queuesUrl)",
      );
    }
    if ((config.kv_namespaces ?? []).length > 0) {
      problems.push(
        "kv_namespaces: KV namespaces live in <dataDir>/kv.sqlite; with a driver, give dataDir too",
      );
    }
  }
  if (problems.length > 0) {
    throw new SteadError("INVALID_CONFIG", formatOptionProblems("createRuntime()", problems));
  }
}

/**
 * Rate Limiting bindings of one `namespace_id` share their counters, which count in windows of
 * one length: their periods must agree.
 */
function sharedNamespaceProblems(ratelimits: readonly RateLimitBindingOptions[]): string[] {
  const first = new Map<string, number>();
  const problems: string[] = [];
  ratelimits.forEach(({ namespace_id, simple }, index) => {
    const id = String(namespace_id);
    const earlier = first.get(id);
    if (earlier === undefined) {
      first.set(id, index);
      return;
    }
    const period = ratelimits[earlier]!.simple.period;
    if (simple.period !== period) {
      problems.push(
        `ratelimits[${index}].simple.period: ${simple.period} differs from the period ${period} of ratelimits[${earlier}], which has the same namespace_id "${id}"; bindings of one namespace share their counters, so give them one period, or another namespace_id`,
      );
    }
  });
  return problems;
}

export function classBindings(config: ResolvedRuntimeOptions): ClassBinding[] {
  return Object.entries(config.durableObjects ?? {}).map(([binding, spec]) => ({
    binding,
    className: typeof spec === "string" ? spec : spec.className,
    backend: typeof spec === "object" && spec.storage === "kv" ? "kv" : "sqlite",
  }));
}

/**
 * Plans the migrations (which changes nothing), checks that the module exports every bound
 * class, and only then applies them. Resolves to every recorded namespace.
 */
export async function prepareNamespaces(
  config: ResolvedRuntimeOptions,
  module: Record<string, unknown>,
  driver: StorageDriver,
): Promise<NamespaceRecord[]> {
  const bindings = classBindings(config);
  // A deletion waiting for confirmation names how many objects it would delete: count them
  // (asynchronously, for any driver) only when a pending migration deletes a class at all.
  const applied = new Set(driver.control.appliedMigrations());
  const deletes = (config.migrations ?? []).some(
    (migration) => !applied.has(migration.tag) && (migration.deleted_classes ?? []).length > 0,
  );
  const counts = new Map<string, number>();
  if (deletes) {
    for (const { storageName } of driver.control.namespaces()) {
      counts.set(storageName, (await driver.listObjects(storageName)).length);
    }
  }
  const plan = planMigrations({
    records: driver.control.namespaces(),
    applied: driver.control.appliedMigrations(),
    migrations: config.migrations ?? [],
    bindings,
    declared: [
      ...Object.entries(config.objectClasses ?? {}).map(([className, backend]) => ({
        className,
        backend,
      })),
      // Each D1 database is an object of Stead's own class.
      ...((config.d1_databases ?? []).length === 0
        ? []
        : [{ className: D1_CLASS_NAME, backend: "sqlite" as const }]),
    ],
    confirmDeletions: config.confirmDeletions ?? [],
    countObjects: (storageName) => counts.get(storageName) ?? 0,
    source: config.configPath ?? "createRuntime() options",
  });
  const named = [
    ...bindings.map(({ binding, className }) => ({
      className,
      by: `Durable Object binding ${binding}`,
    })),
    ...Object.keys(config.objectClasses ?? {}).map((className) => ({
      className,
      by: `exports.${className}`,
    })),
  ];
  for (const { className, by } of named) {
    if (typeof module[className] !== "function") {
      const exported = Object.keys(module).filter((k) => typeof module[k] === "function");
      throw new SteadError(
        "INVALID_CONFIG",
        `${config.configPath === undefined ? "" : `${config.configPath}: `}${by} names class "${className}", but the entry module does not export it. Exported classes: ${exported.join(", ") || "(none)"}. Export the class, or fix the class name.`,
      );
    }
  }
  await applyMigrationPlan(driver, plan);
  return [...plan.records.values()];
}
