import { randomBytes } from "node:crypto";
import { SteadError } from "../errors.ts";
import type { ControlChange, NamespaceRecord } from "../storage/driver.ts";
import type { ClassBinding, Migration } from "./migration.ts";

/** What the migration planner starts from and must respect. */
export interface PlanInput {
  /** The namespace records of the data directory. */
  records: readonly NamespaceRecord[];
  /** Tags already applied to the data directory, in order. */
  applied: readonly string[];
  /** The configured migrations, in order. */
  migrations: readonly Migration[];
  /** The configured Durable Object bindings. */
  bindings: readonly ClassBinding[];
  /** Classes declared to have storage without a binding (wrangler's `exports`). */
  declared?: readonly { className: string; backend: "sqlite" | "kv" }[];
  /** Tags whose `deleted_classes` may delete data. */
  confirmDeletions: readonly string[];
  /** Objects stored in a namespace, to say what a deletion would lose. */
  countObjects(storageName: string): number;
  /** Names the configuration in messages: a config file path, or "createRuntime() options". */
  source: string;
}

/** One pending migration: namespaces to delete, then one control-store change. */
export interface MigrationStep {
  tag: string;
  /** Storage names whose objects and alarms are deleted before `change` is recorded. */
  deleteStorage: string[];
  change: ControlChange;
}

/** Everything to do before namespaces are created, computed without touching anything. */
export interface MigrationPlan {
  steps: MigrationStep[];
  /** Records for bound classes seen for the first time (no migration created them). */
  firstSight: NamespaceRecord[];
  /** Every namespace after the plan ran, by class name. */
  records: Map<string, NamespaceRecord>;
}

/**
 * Checks the configured migrations against what the data directory records and plans their
 * effects. Throws, with nothing changed, when any of them cannot be applied or a deletion is not
 * confirmed. Without migrations, each bound class is simply created SQLite-backed (or with its
 * binding's backend) on first sight.
 */
export function planMigrations(input: PlanInput): MigrationPlan {
  const { migrations, source } = input;
  const state = new Map(input.records.map((r) => [r.className, r]));
  checkTags(input);

  const history = new Map<string, string>(); // class -> why it no longer exists
  const unconfirmed: string[] = [];
  const unconfirmedTags: string[] = [];
  const deletions: { name: string; where: string }[] = [];
  const steps: MigrationStep[] = [];
  migrations.forEach((migration, index) => {
    const where = `${source}: migrations[${index}] (tag "${migration.tag}")`;
    for (const transfer of migration.transferred_classes ?? []) {
      throw new SteadError(
        "CONFIG_UNSUPPORTED",
        `${where}: transferred_classes (${transfer.from} from Worker "${transfer.from_script ?? "?"}" to ${transfer.to}) is not supported yet: Stead runs one Worker, so there is no other Worker's data to transfer. Remove the transfer; to start ${transfer.to} empty, list it in new_sqlite_classes instead.`,
      );
    }
    recordHistory(history, migration);
    if (input.applied.includes(migration.tag)) return;

    const before = new Map(state);
    const deleteStorage: string[] = [];
    const create = (className: string, backend: NamespaceRecord["backend"], field: string) => {
      const existing = state.get(className);
      if (existing === undefined) {
        state.set(className, newRecord(className, backend, state));
      } else if (existing.backend !== backend) {
        throw new SteadError(
          "MIGRATION_INVALID",
          backend === "sqlite"
            ? `${where}: new_sqlite_classes lists ${className}, but ${className} already exists as a KV-backed class (new_classes). A KV-backed class cannot be converted to SQLite; remove ${className} from new_sqlite_classes, or create a new SQLite-backed class under another name.`
            : `${where}: ${field} lists ${className}, but ${className} already exists as a SQLite-backed class. A class's storage backend cannot change; remove ${className} from ${field}.`,
        );
      }
    };
    for (const name of migration.new_sqlite_classes ?? [])
      create(name, "sqlite", "new_sqlite_classes");
    for (const name of migration.new_classes ?? []) create(name, "kv", "new_classes");
    for (const { from, to } of migration.renamed_classes ?? []) {
      const record = state.get(from);
      if (record === undefined) {
        throw new SteadError(
          "MIGRATION_INVALID",
          `${where}: renamed_classes renames ${from} to ${to}, but there is no class ${from}: no earlier migration creates it and this data directory has no record of it. Fix "from", or create ${from} in an earlier migration.`,
        );
      }
      if (state.has(to)) {
        throw new SteadError(
          "MIGRATION_INVALID",
          `${where}: renamed_classes renames ${from} to ${to}, but a class ${to} already exists. The destination of a rename must not exist yet: rename to a new name, or delete ${to} first in its own migration.`,
        );
      }
      state.delete(from);
      state.set(to, { ...record, className: to });
    }
    for (const name of migration.deleted_classes ?? []) {
      const record = state.get(name);
      if (record === undefined) {
        throw new SteadError(
          "MIGRATION_INVALID",
          `${where}: deleted_classes lists ${name}, but there is no class ${name}: no earlier migration creates it and this data directory has no record of it. Fix the class name, or remove it from deleted_classes.`,
        );
      }
      deletions.push({ name, where });
      if (!input.confirmDeletions.includes(migration.tag)) {
        const count = input.countObjects(record.storageName);
        unconfirmed.push(
          `  - migration "${migration.tag}" deletes class ${name}: ${count} stored object${count === 1 ? "" : "s"}`,
        );
        if (!unconfirmedTags.includes(migration.tag)) unconfirmedTags.push(migration.tag);
      }
      state.delete(name);
      deleteStorage.push(record.storageName);
    }
    steps.push({ tag: migration.tag, deleteStorage, change: diff(before, state, migration.tag) });
  });

  // A binding may name a deleted class only when a later migration creates it again.
  for (const { name, where } of deletions) {
    const bound = input.bindings.filter((b) => b.className === name).map((b) => b.binding);
    if (bound.length > 0 && !state.has(name)) {
      throw new SteadError(
        "MIGRATION_INVALID",
        `Cannot apply --delete-class migration to class ${name} without also removing the binding that references it. (${where}: remove the binding ${bound.join(", ")} from durable_objects.bindings, or remove ${name} from deleted_classes.)`,
      );
    }
  }

  if (unconfirmed.length > 0) {
    const tags = unconfirmedTags.join(",");
    throw new SteadError(
      "DELETE_NOT_CONFIRMED",
      `${source}: a deleted_classes migration would delete data for good, and Stead does not delete data without confirmation. Nothing was changed.\n${unconfirmed.join("\n")}\nTo delete, confirm ${unconfirmedTags.length === 1 ? "the migration" : "the migrations"} by tag: set STEAD_CONFIRM_DELETE=${tags} for stead dev / stead start, or pass confirmDeletions: ${JSON.stringify(unconfirmedTags)} to createRuntime(). To keep the data, remove the class from deleted_classes.`,
    );
  }

  const firstSight: NamespaceRecord[] = [];
  for (const { binding, className, backend } of input.bindings) {
    if (state.has(className)) continue;
    const gone = history.get(className);
    if (gone !== undefined) {
      throw new SteadError(
        "MIGRATION_INVALID",
        `${source}: the Durable Object binding ${binding} references class ${className}, but ${gone}. Update or remove the binding; to bring the class back empty, list it in new_sqlite_classes in a new migration.`,
      );
    }
    const record = newRecord(className, backend, state);
    state.set(className, record);
    firstSight.push(record);
  }
  for (const { className, backend } of input.declared ?? []) {
    if (state.has(className)) continue;
    const gone = history.get(className);
    if (gone !== undefined) {
      throw new SteadError(
        "MIGRATION_INVALID",
        `${source}: exports declares class ${className}, but ${gone}. Remove it from exports, or mark it "state": "deleted".`,
      );
    }
    const record = newRecord(className, backend, state);
    state.set(className, record);
    firstSight.push(record);
  }
  return { steps, firstSight, records: state };
}

/** Remembers, per class name, the migration that last made it disappear. */
function recordHistory(history: Map<string, string>, migration: Migration): void {
  for (const name of [...(migration.new_sqlite_classes ?? []), ...(migration.new_classes ?? [])]) {
    history.delete(name);
  }
  for (const { from, to } of migration.renamed_classes ?? []) {
    history.delete(to);
    history.set(from, `migration "${migration.tag}" renamed it to ${to}`);
  }
  for (const name of migration.deleted_classes ?? []) {
    history.set(name, `migration "${migration.tag}" deleted it`);
  }
}

/** Applied tags must still be listed, in the order applied, with every new tag after them. */
function checkTags({ migrations, applied, source }: PlanInput): void {
  const seen = new Set<string>();
  for (const { tag } of migrations) {
    if (seen.has(tag)) {
      throw new SteadError(
        "MIGRATION_INVALID",
        `${source}: migrations lists the tag "${tag}" twice. Tags name migrations and must be unique.`,
      );
    }
    seen.add(tag);
  }
  if (migrations.length === 0) return;
  const listed = migrations.map((m) => m.tag);
  const missing = applied.filter((tag) => !seen.has(tag));
  if (missing.length > 0) {
    throw new SteadError(
      "MIGRATION_INVALID",
      `${source}: migrations no longer lists ${missing.map((t) => `"${t}"`).join(", ")}, already applied to this data directory (applied, in order: ${applied.join(", ")}). Applied migrations are permanent: put ${missing.length === 1 ? "it" : "them"} back, and add changes as new migrations at the end of the list.`,
    );
  }
  const appliedInListOrder = listed.filter((tag) => applied.includes(tag));
  if (appliedInListOrder.join("\n") !== applied.join("\n")) {
    throw new SteadError(
      "MIGRATION_INVALID",
      `${source}: migrations lists the applied tags in the order ${appliedInListOrder.join(", ")}, but they were applied as ${applied.join(", ")}. Restore the original order.`,
    );
  }
  if (applied.length === 0) return;
  const lastApplied = listed.indexOf(applied.at(-1)!);
  const early = listed.slice(0, lastApplied).find((tag) => !applied.includes(tag));
  if (early !== undefined) {
    throw new SteadError(
      "MIGRATION_INVALID",
      `${source}: the new migration "${early}" comes before "${applied.at(-1)}", which was already applied to this data directory. Move "${early}" to the end of migrations.`,
    );
  }
}

/**
 * A record for a new class: its storage name is the class name unless a renamed class still holds
 * it, and its id key is a new random secret, so ids cannot be made offline and a class deleted
 * and created again does not get its old ids back. (Data directories made before keys were
 * random keep the public keys they recorded, `stead:<storage name>`, so stored ids still resolve.)
 */
function newRecord(
  className: string,
  backend: NamespaceRecord["backend"],
  state: ReadonlyMap<string, NamespaceRecord>,
): NamespaceRecord {
  const taken = new Set([...state.values()].map((r) => r.storageName));
  // Class names are identifiers, so "Name-2" never is another class's default.
  for (let n = 1; ; n++) {
    const storageName = n === 1 ? className : `${className}-${n}`;
    if (!taken.has(storageName)) {
      return { className, storageName, uniqueKey: newIdKey(), backend };
    }
  }
}

/** 256 random bits: the secret a namespace's ids are MACed with. */
function newIdKey(): string {
  return randomBytes(32).toString("base64url");
}

/** The control-store change that turns `before` into `after`. */
function diff(
  before: ReadonlyMap<string, NamespaceRecord>,
  after: ReadonlyMap<string, NamespaceRecord>,
  tag: string,
): ControlChange {
  const remove = [...before.keys()].filter((name) => after.get(name) !== before.get(name));
  const put = [...after.values()].filter((r) => before.get(r.className) !== r);
  return { remove, put, migrationTag: tag };
}
