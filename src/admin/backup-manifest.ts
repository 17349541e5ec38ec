import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SteadError } from "../core/errors.ts";
import type { BackupControl } from "./admin-api.ts";

/**
 * A backup's layout (docs/operations.md, "Backup and restore"):
 *
 * ```
 * DEST/
 *   manifest.json                        written last: what the backup holds (BackupManifest)
 *   control.json                         namespaces with their id keys, migrations, dead letters
 *   objects/<storageName>/<id>.sqlite    each object's database, a copy at a commit boundary
 * ```
 */
export const MANIFEST_FILE = "manifest.json";
export const CONTROL_FILE = "control.json";
export const OBJECTS_DIR = "objects";
export const BACKUP_FORMAT = "stead-backup";
export const BACKUP_VERSION = 1;

/** `manifest.json`. */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  /** The Stead that took it. */
  stead: string;
  /** When it started and finished (ISO 8601). Each object is copied at its own moment in between. */
  startedAt: string;
  finishedAt: string;
  /** Where the objects came from: their storage, and whether a server's admin API served them. */
  source: { storage: "local" | "postgres" | "driver"; through: "admin-api" | "data-dir" };
  /** Objects copied, over every namespace. */
  objects: number;
  namespaces: {
    className: string;
    storageName: string;
    backend: "sqlite" | "kv";
    objects: number;
  }[];
  /** Every file but the manifest, by path relative to the backup: its size and SHA-256 (hex). */
  files: Record<string, { bytes: number; sha256: string }>;
}

/** `control.json`: `BackupControl` as the admin API gave it. */
export type BackupControlFile = BackupControl;

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The path of an object's database in a backup, relative to it. */
export function objectPath(storageName: string, id: string): string {
  return `${OBJECTS_DIR}/${encodeURIComponent(storageName)}/${id}.sqlite`;
}

/** Reads and checks `manifest.json`; `BACKUP_INVALID` when it is missing or not a manifest. */
export function readManifest(dir: string): BackupManifest {
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST_FILE), "utf8");
  } catch (error) {
    throw new SteadError(
      "BACKUP_INVALID",
      (error as NodeJS.ErrnoException).code === "ENOENT"
        ? `${dir} has no ${MANIFEST_FILE}: it is not a Stead backup, or its backup did not finish (the manifest is written last).`
        : `Cannot read ${join(dir, MANIFEST_FILE)}: ${(error as Error).message}`,
    );
  }
  let manifest: Partial<BackupManifest>;
  try {
    manifest = JSON.parse(text) as Partial<BackupManifest>;
  } catch {
    throw new SteadError(
      "BACKUP_INVALID",
      `${join(dir, MANIFEST_FILE)} is not JSON: it is damaged.`,
    );
  }
  if (manifest.format !== BACKUP_FORMAT) {
    throw new SteadError(
      "BACKUP_INVALID",
      `${join(dir, MANIFEST_FILE)} is not a Stead backup manifest.`,
    );
  }
  if (manifest.version !== BACKUP_VERSION) {
    throw new SteadError(
      "BACKUP_INVALID",
      `The backup in ${dir} is version ${String(manifest.version)}; this Stead reads version ${BACKUP_VERSION}.`,
    );
  }
  if (
    typeof manifest.files !== "object" ||
    manifest.files === null ||
    !Array.isArray(manifest.namespaces) ||
    typeof manifest.objects !== "number"
  ) {
    throw new SteadError(
      "BACKUP_INVALID",
      `${join(dir, MANIFEST_FILE)} is incomplete: it is damaged.`,
    );
  }
  return manifest as BackupManifest;
}
