import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { restoreBackup } from "../admin/backup-restore.ts";
import { verifyBackup } from "../admin/backup-verify.ts";
import { writeBackup } from "../admin/backup-writer.ts";
import { SteadError } from "../core/errors.ts";
import type { StorageDriver } from "../core/storage/driver.ts";
import { DataDirLock } from "../drivers/local/data-dir-lock.ts";
import { LocalDriver } from "../drivers/local/local-driver.ts";
import { PostgresDriver } from "../drivers/postgres/postgres-driver.ts";
import { type ObjectsFlags, withOperations } from "./objects.ts";
import { resolveServerOptions, UsageError } from "./options.ts";
import { ProgressBar, size } from "./progress.ts";
import { steadVersion } from "./stead-version.ts";

type Write = (text: string) => void;

/**
 * `stead backup DEST`: every object's database, each copied at a commit boundary, plus the
 * namespaces with their id keys, migrations and dead letters, and a manifest with every file's
 * SHA-256. Through a running server's admin API, or on a data directory no server holds.
 */
export async function backupCommand(
  dest: string,
  flags: ObjectsFlags & { concurrency?: string },
  report: Write,
): Promise<void> {
  const concurrency = flags.concurrency === undefined ? 4 : Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new UsageError(
      `--concurrency must be a whole number from 1 to 64, got ${flags.concurrency}.`,
    );
  }
  await withOperations(flags, async (ops, through) => {
    const progress = new ProgressBar("Backing up");
    const manifest = await writeBackup(ops, resolve(dest), {
      stead: steadVersion(),
      through,
      concurrency,
      progress,
    });
    if (flags.json === true) process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
    const classes = plural(manifest.namespaces.length, "class", "classes");
    report(
      `Backed up ${progress.done()}, of ${classes}, to ${dest} through ${through === "admin-api" ? "the admin API" : "the data directory"}. Check it with: stead backup verify ${dest}\n`,
    );
  });
}

/** `stead backup verify DEST`: checks every file against the manifest; exits 1 on any problem. */
export async function backupVerifyCommand(dir: string, report: Write): Promise<void> {
  const progress = new ProgressBar("Verifying");
  const result = await verifyBackup(resolve(dir), progress);
  const summary = progress.done();
  if (result.problems.length > 0) {
    throw new SteadError(
      "BACKUP_INVALID",
      `The backup in ${dir} has ${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}:\n  ${result.problems.join("\n  ")}`,
    );
  }
  const manifest = result.manifest!;
  report(
    `The backup in ${dir} is whole: ${plural(manifest.objects, "object", "objects")} of ${plural(manifest.namespaces.length, "class", "classes")} (${size(result.bytes)}), every file matching its SHA-256 and passing integrity_check; taken ${manifest.startedAt} to ${manifest.finishedAt} by Stead ${manifest.stead}. (${summary})\n`,
  );
}

/**
 * `stead restore SRC`: into a new or empty data directory (or, with --force, in place of one
 * that holds data, which is kept beside it, renamed), or into a new PostgreSQL schema
 * (`--storage`). The backup is checked whole first; the data directory is built aside and
 * renamed into place once complete, so an interrupted restore leaves nothing half-done there.
 */
export async function restoreCommand(
  src: string,
  flags: Pick<ObjectsFlags, "dir" | "dataDir" | "storage"> & { force?: boolean },
  report: Write,
): Promise<void> {
  if (!existsSync(src)) throw new UsageError(`There is no backup at ${src}.`);
  const options = resolveServerOptions(flags.dir, flags, { dev: false });
  const verifying = new ProgressBar("Checking the backup");
  const progress = new ProgressBar("Restoring");
  const restore = (driver: StorageDriver) =>
    restoreBackup(driver, resolve(src), { verifying, progress });
  if (options.storage !== undefined) {
    if (flags.force === true) {
      throw new UsageError(
        "--force replaces a data directory; a PostgreSQL schema is never replaced: restore into a new one (?schema=NAME in the storage URL).",
      );
    }
    // Working copies are not made by a restore: a directory of its own, removed afterwards.
    const scratch = mkdtempSync(join(tmpdir(), "stead-restore-"));
    try {
      const driver = await PostgresDriver.connect({ url: options.storage, dataDir: scratch });
      try {
        const done = await restore(driver);
        verifying.done();
        report(`Restored ${progress.done()} into PostgreSQL (${restoredCounts(done)}).\n`);
      } finally {
        await driver.close();
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    return;
  }
  const target = options.dataDir;
  const occupied = existsSync(target) && readdirSync(target).length > 0;
  if (occupied && flags.force !== true) {
    throw new SteadError(
      "TARGET_NOT_EMPTY",
      `The data directory ${target} already holds data, so nothing was restored. Restore into a new or empty directory (--data-dir), or pass --force to replace it (the current one is kept as ${basename(target)}.replaced-<time>, beside it).`,
    );
  }
  // Held from before anything is built until the result is in place: no server starts on the
  // directory meanwhile, and one that runs on it is refused (DATA_DIR_LOCKED).
  using lock = occupied ? DataDirLock.acquire(target) : undefined;
  const staging = join(dirname(target), `.${basename(target)}.restoring-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  const driver = new LocalDriver({ dataDir: staging });
  let done: Awaited<ReturnType<typeof restoreBackup>>;
  try {
    done = await restore(driver);
  } catch (error) {
    await driver.close();
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  await driver.close();
  rmSync(join(staging, "stead.pid"), { force: true });
  verifying.done();
  let kept: string | undefined;
  if (occupied) {
    kept = `${target}.replaced-${new Date().toISOString().replaceAll(":", "-")}`;
    renameSync(target, kept);
  }
  // rename(2) replaces an empty directory, and is atomic.
  renameSync(staging, target);
  lock?.release();
  report(
    `Restored ${progress.done()} into ${target} (${restoredCounts(done)}).${kept === undefined ? "" : ` The data directory that was there is kept as ${kept}; remove it once the restored one serves.`}\n`,
  );
}

function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

function restoredCounts(done: Awaited<ReturnType<typeof restoreBackup>>): string {
  return [
    plural(done.namespaces, "class", "classes"),
    plural(done.alarms, "alarm", "alarms"),
    plural(done.deadLetters, "dead letter", "dead letters"),
  ].join(", ");
}
