import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { SteadError } from "../core/errors.ts";
import type { ObjectRecord } from "../core/object/object-record.ts";
import type { AdminOperations, ImportResult, NamespaceSummary } from "./admin-api.ts";
import {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  type ExportHeader,
  parseHeader,
  parseRecord,
} from "./export-format.ts";
import { recordOf } from "./object-export.ts";
import { NO_PROGRESS, type ProgressSink } from "./progress-sink.ts";

/** Objects listed per request while a class is exported or backed up. */
const PAGE = 1000;

/** Every object id of a class, page by page (`list`), in id order. */
export async function* objectIds(ops: AdminOperations, className: string): AsyncGenerator<string> {
  let cursor: string | undefined;
  do {
    const page = await ops.list(className, {
      limit: PAGE,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const { id } of page.objects) yield id;
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
}

/** The class's namespace as the admin API lists it; `ADMIN_NOT_FOUND` naming the classes if none. */
export async function namespaceOf(
  ops: AdminOperations,
  className: string,
): Promise<NamespaceSummary> {
  const namespaces = await ops.namespaces();
  const found = namespaces.find((ns) => ns.className === className || ns.storageName === className);
  if (found !== undefined) return found;
  throw new SteadError(
    "ADMIN_NOT_FOUND",
    `No Durable Object class ${className} is recorded here. Classes: ${namespaces.map((ns) => ns.className).join(", ") || "(none)"}.`,
  );
}

export interface ExportOptions {
  /** One object (name or id); default: every object of the class, one at a time. */
  object?: string;
  /** The Stead version, for the header. */
  stead: string;
  progress?: ProgressSink;
  now?: () => Date;
}

/**
 * Writes Stead's export format through `write`: the header, then one line per object. Each
 * object is copied in one step at a commit boundary (`snapshot`) and turned into its record
 * outside it; a class streams object by object, so at most one object's record is in memory.
 * An object deleted between the listing and its copy is left out. Resolves to how many were
 * written.
 */
export async function exportObjects(
  ops: AdminOperations,
  className: string,
  write: (text: string) => Promise<void>,
  options: ExportOptions,
): Promise<{ objects: number; bytes: number }> {
  const ns = await namespaceOf(ops, className);
  const progress = options.progress ?? NO_PROGRESS;
  const header: ExportHeader = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    class: ns.className,
    storageName: ns.storageName,
    backend: ns.backend,
    exportedAt: (options.now?.() ?? new Date()).toISOString(),
    stead: options.stead,
  };
  await write(`${JSON.stringify(header)}\n`);
  let objects = 0;
  let bytes = 0;
  const one = async (object: string, listed: boolean) => {
    let line: string;
    try {
      line = `${JSON.stringify(recordOf(await ops.snapshot(ns.className, object), ns.backend))}\n`;
    } catch (error) {
      // Deleted since it was listed: not part of the export.
      if (listed && error instanceof SteadError && error.code === "ADMIN_NOT_FOUND") return;
      throw error;
    }
    await write(line);
    objects++;
    bytes += Buffer.byteLength(line);
    progress.advance(Buffer.byteLength(line));
  };
  if (options.object !== undefined) {
    progress.start(1);
    await one(options.object, false);
  } else {
    progress.start(ns.objects);
    for await (const id of objectIds(ops, ns.className)) await one(id, true);
  }
  return { objects, bytes };
}

export interface ImportFileOptions {
  /** Import into this class instead of the one the file names. */
  className?: string;
  /** Replace what objects hold (otherwise an object holding data stops the import). */
  replace?: boolean;
  progress?: ProgressSink;
}

/** One object imported. */
export interface ImportedObject extends ImportResult {
  name: string | null;
  line: number;
}

/** How an import of a file ended. */
export interface ImportReport {
  className: string;
  /** The objects imported, in file order (each in its own transaction). */
  imported: ImportedObject[];
  /** The object whose import failed (nothing of it changed), if one did; the import stopped there. */
  failed?: { line: number; id: string; name: string | null; error: Error };
  /** Objects after the failed one, not attempted. */
  notAttempted: number;
}

/**
 * Imports an export file: first reads all of it, checking every line (so a damaged file
 * imports nothing), then imports its objects in order, each in one transaction inside the
 * object. It stops at the first object that fails: that object is unchanged, the ones before
 * it stay imported, the ones after it are not attempted (`ImportReport`).
 */
export async function importFile(
  ops: AdminOperations,
  path: string,
  options: ImportFileOptions = {},
): Promise<ImportReport> {
  const progress = options.progress ?? NO_PROGRESS;
  let header: ExportHeader | undefined;
  let count = 0;
  for await (const { line, number } of lines(path)) {
    if (header === undefined) header = parseHeader(line, `${path} line ${number}`);
    else {
      parseRecord(line, `${path} line ${number}`);
      count++;
    }
  }
  if (header === undefined) {
    throw new SteadError("EXPORT_INVALID", `${path} is empty: it is not a Stead export.`);
  }
  const className = options.className ?? header.class;
  const ns = await namespaceOf(ops, className);
  if (ns.backend !== header.backend && header.backend === "sqlite") {
    throw new SteadError(
      "EXPORT_INVALID",
      `${path} holds objects of a SQLite-backed class, and ${ns.className} is KV-backed (no SQL): import them into a SQLite-backed class.`,
    );
  }
  progress.start(count);
  const report: ImportReport = { className: ns.className, imported: [], notAttempted: 0 };
  let first = true;
  for await (const { line, number } of lines(path)) {
    if (first) {
      first = false;
      continue;
    }
    if (report.failed !== undefined) {
      report.notAttempted++;
      continue;
    }
    let record: ObjectRecord | undefined;
    try {
      record = parseRecord(line, `${path} line ${number}`);
      const result = await ops.importObject(ns.className, record, {
        replace: options.replace === true,
      });
      report.imported.push({ ...result, name: record.name, line: number });
      progress.advance(Buffer.byteLength(line));
    } catch (error) {
      report.failed = {
        line: number,
        id: record?.id ?? "?",
        name: record?.name ?? null,
        error: error instanceof Error ? error : new Error(String(error)),
      };
    }
  }
  return report;
}

/** The non-empty lines of a file, numbered from 1, read as a stream. */
async function* lines(path: string): AsyncGenerator<{ line: string; number: number }> {
  const reader = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let number = 0;
  try {
    for await (const line of reader) {
      number++;
      if (line.trim() !== "") yield { line, number };
    }
  } finally {
    reader.close();
  }
}
