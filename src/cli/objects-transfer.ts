import { once } from "node:events";
import { createWriteStream, renameSync, rmSync } from "node:fs";
import type { Writable } from "node:stream";
import { exportObjects, importFile } from "../admin/object-transfer.ts";
import { SteadError } from "../core/errors.ts";
import { type ObjectsFlags, withOperations } from "./objects.ts";
import { ProgressBar } from "./progress.ts";
import { steadVersion } from "./stead-version.ts";

type Write = (text: string) => void;

/**
 * `stead objects export CLASS [OBJECT] [--out FILE]`: one object, or every object of the class
 * one at a time, in Stead's export format; to FILE (written aside and renamed once complete,
 * mode 0600) or stdout. Progress and the summary go to stderr.
 */
export async function objectsExportCommand(
  className: string,
  object: string | undefined,
  flags: ObjectsFlags & { out?: string },
  report: Write,
): Promise<void> {
  await withOperations(flags, async (ops) => {
    const progress = new ProgressBar("Exporting");
    const out = flags.out;
    const partial = out === undefined ? undefined : `${out}.partial`;
    const stream: Writable =
      partial === undefined
        ? process.stdout
        : createWriteStream(partial, { mode: 0o600, flags: "w" });
    const write = async (text: string) => {
      if (!stream.write(text)) await once(stream, "drain");
    };
    let done: { objects: number };
    try {
      done = await exportObjects(ops, className, write, {
        ...(object === undefined ? {} : { object }),
        stead: steadVersion(),
        progress,
      });
      if (partial !== undefined) {
        stream.end();
        await once(stream, "finish");
        renameSync(partial, out!);
      }
    } catch (error) {
      if (partial !== undefined) {
        stream.destroy();
        rmSync(partial, { force: true });
      }
      throw error;
    }
    report(`Exported ${progress.done()}${out === undefined ? "" : ` to ${out}`}.\n`);
    if (done.objects === 0 && object === undefined) report(`${className} has no objects.\n`);
  });
}

/**
 * `stead objects import FILE [--class CLASS] [--replace]`: checks the whole file, then imports
 * its objects one by one, each in one transaction inside the object. Stops at the first object
 * that fails, saying which ones were imported and which were not.
 */
export async function objectsImportCommand(
  file: string,
  flags: ObjectsFlags & { class?: string; replace?: boolean },
  report: Write,
): Promise<void> {
  await withOperations(flags, async (ops) => {
    const progress = new ProgressBar("Importing");
    const result = await importFile(ops, file, {
      ...(flags.class === undefined ? {} : { className: flags.class }),
      replace: flags.replace === true,
      progress,
    });
    const summary = progress.done();
    const { failed } = result;
    if (failed === undefined) {
      report(`Imported ${summary} into ${result.className}.\n`);
      return;
    }
    const who = failed.name === null ? failed.id : `${failed.name} (id ${failed.id})`;
    const before = result.imported.length;
    throw new SteadError(
      failed.error instanceof SteadError ? failed.error.code : "ADMIN_BAD_REQUEST",
      [
        `The import stopped at ${file} line ${failed.line}, object ${who}: ${failed.error.message}`,
        "Nothing of that object changed (its import is one transaction).",
        before === 0
          ? "No object was imported before it."
          : `The ${before} object${before === 1 ? "" : "s"} before it ${before === 1 ? "was" : "were"} imported, each in its own transaction, and stay${before === 1 ? "s" : ""} so.`,
        result.notAttempted === 0
          ? "No object came after it."
          : `The ${result.notAttempted} object${result.notAttempted === 1 ? "" : "s"} after it ${result.notAttempted === 1 ? "was" : "were"} not imported.`,
        before === 0
          ? "Fix the problem and import the file again."
          : "Fix the problem and import the file again with --replace (the objects already imported are then replaced by the same data).",
      ].join("\n"),
    );
  });
}
