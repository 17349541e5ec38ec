import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SteadError } from "../core/errors.ts";
import type { StorageDriver } from "../core/storage/driver.ts";
import { type BackupControlFile, CONTROL_FILE, objectPath, sha256 } from "./backup-manifest.ts";
import { verifyBackup } from "./backup-verify.ts";
import { objectMetadata, openImage } from "./database-image.ts";
import { NO_PROGRESS, type ProgressSink } from "./progress-sink.ts";

export interface RestoreOptions {
  /** Reports the check of the backup, before anything is written. */
  verifying?: ProgressSink;
  /** Reports the objects restored. */
  progress?: ProgressSink;
}

/** What a restore put in the storage. */
export interface RestoreReport {
  namespaces: number;
  migrations: number;
  objects: number;
  alarms: number;
  deadLetters: number;
}

/**
 * Restores a backup into storage that holds nothing and that no runtime serves (a new data
 * directory, or a new PostgreSQL schema), through `driver`:
 *
 * 1. checks the whole backup first (`verifyBackup`): a damaged backup writes nothing;
 * 2. refuses storage that already has namespaces, migrations or objects of the backup's namespaces;
 * 3. records the namespaces with their id keys (so ids stored anywhere still resolve) and the
 *    applied migrations (so the app's migrations are not applied again);
 * 4. stores each object's database as it is in the backup (`StorageDriver.restoreObject`), with
 *    its alarm in the alarm index;
 * 5. puts back the dead letters of objects that have no alarm again.
 */
export async function restoreBackup(
  driver: StorageDriver,
  src: string,
  options: RestoreOptions = {},
): Promise<RestoreReport> {
  if (driver.restoreObject === undefined) {
    throw new Error("internal: this storage driver cannot restore backups (no restoreObject)");
  }
  const check = await verifyBackup(src, options.verifying);
  const manifest = check.manifest;
  if (manifest === undefined || check.problems.length > 0) {
    const shown = check.problems.slice(0, 10);
    throw new SteadError(
      "BACKUP_INVALID",
      `The backup in ${src} is damaged, so nothing was restored:\n  ${shown.join("\n  ")}${check.problems.length > shown.length ? `\n  (and ${check.problems.length - shown.length} more; stead backup verify lists them)` : ""}`,
    );
  }
  const control = JSON.parse(await readFile(join(src, CONTROL_FILE), "utf8")) as BackupControlFile;
  if (driver.control.namespaces().length > 0 || driver.control.appliedMigrations().length > 0) {
    throw new SteadError(
      "TARGET_NOT_EMPTY",
      "The storage to restore into already has Durable Object namespaces or applied migrations, so nothing was restored. Restore into a new data directory (or a new PostgreSQL schema).",
    );
  }
  for (const ns of control.namespaces) {
    if ((await driver.listObjects(ns.storageName)).length > 0) {
      throw new SteadError(
        "TARGET_NOT_EMPTY",
        `The storage to restore into already has objects of ${ns.storageName}, so nothing was restored. Restore into a new data directory (or a new PostgreSQL schema).`,
      );
    }
  }
  const [first, ...rest] = control.migrations;
  await driver.control.commit({
    put: control.namespaces,
    ...(first === undefined ? {} : { migrationTag: first }),
  });
  for (const tag of rest) await driver.control.commit({ migrationTag: tag });

  const progress = options.progress ?? NO_PROGRESS;
  progress.start(manifest.objects);
  const report: RestoreReport = {
    namespaces: control.namespaces.length,
    migrations: control.migrations.length,
    objects: 0,
    alarms: 0,
    deadLetters: 0,
  };
  const withAlarm = new Set<string>();
  const byStorage = new Map(manifest.namespaces.map((ns) => [ns.storageName, ns]));
  for (const path of Object.keys(manifest.files)) {
    const match = /^objects\/([^/]+)\/([0-9a-f]{64})\.sqlite$/.exec(path);
    if (match === null) continue;
    const storageName = decodeURIComponent(match[1]!);
    const id = match[2]!;
    if (!byStorage.has(storageName) || path !== objectPath(storageName, id)) continue;
    const bytes = await readFile(join(src, path));
    if (sha256(bytes) !== manifest.files[path]!.sha256) {
      throw new SteadError(
        "BACKUP_INVALID",
        `${path} changed while it was being restored (its SHA-256 no longer matches the manifest). ${report.objects} objects were restored before it; restore again into new storage.`,
      );
    }
    let metadata: { name: string | null; alarm: number | null };
    {
      using db = openImage(bytes);
      metadata = objectMetadata(db);
    }
    const alarm =
      metadata.alarm === null
        ? undefined
        : {
            namespace: storageName,
            id,
            name: metadata.name ?? undefined,
            time: metadata.alarm,
            scheduledTime: metadata.alarm,
            retryCount: 0,
          };
    await driver.restoreObject(storageName, id, bytes, {
      alarm,
      ...(metadata.name === null ? {} : { name: metadata.name }),
    });
    if (alarm !== undefined) {
      withAlarm.add(`${storageName}/${id}`);
      report.alarms++;
    }
    report.objects++;
    progress.advance(bytes.length);
  }
  for (const letter of control.deadLetters) {
    // An object whose alarm was set again since it was dead-lettered runs that alarm instead.
    if (withAlarm.has(`${letter.namespace}/${letter.id}`)) continue;
    driver.alarms.deadLetter(letter);
    report.deadLetters++;
  }
  await driver.control.commit({});
  return report;
}
