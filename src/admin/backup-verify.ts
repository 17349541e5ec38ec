import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { SteadError } from "../core/errors.ts";
import {
  type BackupControlFile,
  type BackupManifest,
  CONTROL_FILE,
  OBJECTS_DIR,
  readManifest,
  sha256,
} from "./backup-manifest.ts";
import { openImage } from "./database-image.ts";
import { NO_PROGRESS, type ProgressSink } from "./progress-sink.ts";

/** What `verifyBackup` found. */
export interface VerifyReport {
  manifest: BackupManifest | undefined;
  /** Every problem found, one sentence each; empty when the backup is whole. */
  problems: string[];
  /** Object databases that passed every check, and their bytes. */
  objects: number;
  bytes: number;
}

const OBJECT_FILE = /^objects\/([^/]+)\/([0-9a-f]{64})\.sqlite$/;

/**
 * Checks a backup without changing it: the manifest is there and readable; every file it lists
 * is there with its size and SHA-256; `control.json` holds the namespaces the manifest names,
 * each with its id key; every object database opens and passes `PRAGMA integrity_check`; the
 * count of objects of each namespace and in all is the manifest's; no object file is there
 * that the manifest does not list. Reads one database at a time.
 */
export async function verifyBackup(
  dir: string,
  progress: ProgressSink = NO_PROGRESS,
): Promise<VerifyReport> {
  const report: VerifyReport = { manifest: undefined, problems: [], objects: 0, bytes: 0 };
  let manifest: BackupManifest;
  try {
    manifest = readManifest(dir);
  } catch (error) {
    if (!(error instanceof SteadError)) throw error;
    report.problems.push(error.message);
    return report;
  }
  report.manifest = manifest;
  const problem = (text: string) => report.problems.push(text);
  const control = await readControl(dir, manifest, problem);
  const storageNames = new Set(manifest.namespaces.map((ns) => ns.storageName));
  if (control !== undefined) {
    const recorded = new Set(control.namespaces.map((ns) => ns.storageName));
    for (const name of storageNames) {
      if (!recorded.has(name))
        problem(`${CONTROL_FILE} has no namespace ${name}, which the manifest names.`);
    }
    for (const ns of control.namespaces) {
      if (typeof ns.uniqueKey !== "string" || ns.uniqueKey === "") {
        problem(
          `${CONTROL_FILE} has no id key for ${ns.className}: its ids could not be used again.`,
        );
      }
    }
  }
  const entries = Object.entries(manifest.files).filter(([path]) => path !== CONTROL_FILE);
  progress.start(entries.length);
  const counts = new Map<string, number>();
  for (const [path, expected] of entries) {
    const match = OBJECT_FILE.exec(path);
    if (match === null) {
      problem(`The manifest lists ${path}, which is not a path a backup writes.`);
      continue;
    }
    const storageName = decodeURIComponent(match[1]!);
    if (!storageNames.has(storageName)) {
      problem(`${path} belongs to no namespace of the manifest.`);
      continue;
    }
    const bytes = await readListed(dir, path, expected, problem);
    if (bytes === undefined) continue;
    const integrity = integrityOf(bytes);
    if (integrity !== "ok") {
      problem(`${path} is not a sound SQLite database: ${integrity}.`);
      continue;
    }
    counts.set(storageName, (counts.get(storageName) ?? 0) + 1);
    report.objects++;
    report.bytes += bytes.length;
    progress.advance(bytes.length);
  }
  for (const ns of manifest.namespaces) {
    const found = counts.get(ns.storageName) ?? 0;
    if (found !== ns.objects) {
      problem(`The manifest counts ${ns.objects} objects of ${ns.className}; ${found} are whole.`);
    }
  }
  if (report.objects !== manifest.objects && report.problems.length === 0) {
    problem(`The manifest counts ${manifest.objects} objects; ${report.objects} are whole.`);
  }
  for (const path of await objectFiles(dir)) {
    if (manifest.files[path] === undefined) {
      problem(`${path} is in the backup but not in its manifest (added after the backup?).`);
    }
  }
  return report;
}

async function readControl(
  dir: string,
  manifest: BackupManifest,
  problem: (text: string) => void,
): Promise<BackupControlFile | undefined> {
  const expected = manifest.files[CONTROL_FILE];
  if (expected === undefined) {
    problem(`The manifest does not list ${CONTROL_FILE}.`);
    return undefined;
  }
  const bytes = await readListed(dir, CONTROL_FILE, expected, problem);
  if (bytes === undefined) return undefined;
  try {
    const control = JSON.parse(bytes.toString("utf8")) as BackupControlFile;
    if (!Array.isArray(control.namespaces) || !Array.isArray(control.migrations)) throw new Error();
    return control;
  } catch {
    problem(`${CONTROL_FILE} is not the control data of a backup.`);
    return undefined;
  }
}

/** A listed file's bytes when it is there with its size and checksum; else a problem. */
async function readListed(
  dir: string,
  path: string,
  expected: { bytes: number; sha256: string },
  problem: (text: string) => void,
): Promise<Buffer | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, path));
  } catch (error) {
    problem(
      (error as NodeJS.ErrnoException).code === "ENOENT"
        ? `${path} is missing.`
        : `${path} cannot be read: ${(error as Error).message}.`,
    );
    return undefined;
  }
  if (bytes.length !== expected.bytes) {
    problem(`${path} is ${bytes.length} bytes; the manifest says ${expected.bytes}.`);
    return undefined;
  }
  if (sha256(bytes) !== expected.sha256) {
    problem(`${path} does not match its SHA-256 in the manifest: it changed since the backup.`);
    return undefined;
  }
  return bytes;
}

/** "ok", or what `PRAGMA integrity_check` (or opening) says is wrong. */
export function integrityOf(bytes: Uint8Array): string {
  try {
    using db = openImage(bytes);
    const rows = db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
    const result = rows.map((row) => row.integrity_check).join("; ");
    if (result !== "ok") return result;
    const kv = db.prepare("SELECT 1 FROM sqlite_master WHERE name = '_cf_KV'").get();
    return kv === undefined ? "it has no _cf_KV table, so it is not an object's database" : "ok";
  } catch (error) {
    return (error as Error).message;
  }
}

/** The object files present in a backup, as manifest paths. */
async function objectFiles(dir: string): Promise<string[]> {
  const root = join(dir, OBJECTS_DIR);
  let namespaces: string[];
  try {
    namespaces = await readdir(root);
  } catch {
    return [];
  }
  const paths: string[] = [];
  for (const ns of namespaces) {
    for (const file of await readdir(join(root, ns)).catch(() => [] as string[])) {
      paths.push(`${OBJECTS_DIR}/${ns}/${file}`);
    }
  }
  return paths;
}
