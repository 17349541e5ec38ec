import { mkdir, open, readdir, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SteadError } from "../core/errors.ts";
import type { AdminOperations } from "./admin-api.ts";
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupManifest,
  CONTROL_FILE,
  MANIFEST_FILE,
  OBJECTS_DIR,
  objectPath,
  sha256,
} from "./backup-manifest.ts";
import { objectIds } from "./object-transfer.ts";
import { NO_PROGRESS, type ProgressSink } from "./progress-sink.ts";

export interface BackupOptions {
  /** The Stead version, for the manifest. */
  stead: string;
  /** How the CLI reached the objects. */
  through: BackupManifest["source"]["through"];
  /** Objects copied at once (default 4). */
  concurrency?: number;
  progress?: ProgressSink;
  now?: () => Date;
}

/**
 * Takes a backup of every object into `dest` (a new or empty directory): the control data
 * first (namespaces with their id keys, migrations, dead letters), then each object's database,
 * copied at a commit boundary by `snapshot` (an event of the object that copies its database
 * in one step, or the driver's own copy, which never involves the object), a few at a time,
 * then `manifest.json` with every file's SHA-256, written last. Every file is synced before the
 * manifest is renamed into place, so a backup with a manifest is whole.
 *
 * Each object is consistent by itself, as of a moment during the backup; objects created after
 * the listing are not in it, and objects deleted before their copy are left out.
 */
export async function writeBackup(
  ops: AdminOperations,
  dest: string,
  options: BackupOptions,
): Promise<BackupManifest> {
  const now = options.now ?? (() => new Date());
  const progress = options.progress ?? NO_PROGRESS;
  const startedAt = now().toISOString();
  await prepareDestination(dest);
  const files: BackupManifest["files"] = {};
  const control = await ops.backupControl();
  const controlBytes = Buffer.from(`${JSON.stringify(control, null, 2)}\n`);
  await writeSynced(join(dest, CONTROL_FILE), controlBytes);
  files[CONTROL_FILE] = { bytes: controlBytes.length, sha256: sha256(controlBytes) };

  const work: { className: string; storageName: string; id: string }[] = [];
  for (const { className, storageName } of control.namespaces) {
    for await (const id of objectIds(ops, className)) work.push({ className, storageName, id });
  }
  progress.start(work.length);
  const counts = new Map<string, number>();
  /** Each class directory, made once: workers writing into it wait for the one making it. */
  const dirs = new Map<string, Promise<unknown>>();
  let next = 0;
  const worker = async () => {
    while (next < work.length) {
      const { className, storageName, id } = work[next++]!;
      let database: Uint8Array;
      try {
        database = (await ops.snapshot(className, id)).database;
      } catch (error) {
        // Deleted since it was listed: not part of the backup.
        if (error instanceof SteadError && error.code === "ADMIN_NOT_FOUND") continue;
        throw error;
      }
      const path = objectPath(storageName, id);
      const dir = dirname(join(dest, path));
      let made = dirs.get(dir);
      if (made === undefined) {
        made = mkdir(dir, { recursive: true, mode: 0o700 });
        dirs.set(dir, made);
      }
      await made;
      await writeSynced(join(dest, path), database);
      files[path] = { bytes: database.byteLength, sha256: sha256(database) };
      counts.set(storageName, (counts.get(storageName) ?? 0) + 1);
      progress.advance(database.byteLength);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  for (const dir of [...dirs.keys(), join(dest, OBJECTS_DIR), dest]) await syncDirectory(dir);

  const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)));
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    stead: options.stead,
    startedAt,
    finishedAt: now().toISOString(),
    source: { storage: control.storage, through: options.through },
    objects: [...counts.values()].reduce((a, b) => a + b, 0),
    namespaces: control.namespaces.map(({ className, storageName, backend }) => ({
      className,
      storageName,
      backend,
      objects: counts.get(storageName) ?? 0,
    })),
    files: sorted,
  };
  const temporary = join(dest, `${MANIFEST_FILE}.partial`);
  await writeSynced(temporary, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  await rename(temporary, join(dest, MANIFEST_FILE));
  await syncDirectory(dest);
  return manifest;
}

/** Creates `dest` (mode 0700: it holds the id keys), or accepts it empty; refuses anything else. */
async function prepareDestination(dest: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dest);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await mkdir(dest, { recursive: true, mode: 0o700 });
    entries = [];
  }
  if (entries.length > 0) {
    throw new SteadError(
      "TARGET_NOT_EMPTY",
      `${dest} is not empty: a backup goes into a new or empty directory, so it never mixes with other files. Choose another one.`,
    );
  }
  await mkdir(join(dest, OBJECTS_DIR), { mode: 0o700 });
}

/** Writes a new file (mode 0600) and syncs it. */
async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const file = await open(path, "wx", 0o600);
  try {
    await file.writeFile(bytes);
    await file.datasync();
  } finally {
    await file.close();
  }
}

async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
