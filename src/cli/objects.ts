import { AdminApi, type AdminOperations } from "../admin/admin-api.ts";
import { AdminClient } from "../admin/admin-client.ts";
import { SteadError } from "../core/errors.ts";
import type { AdminValue, ObjectInspection } from "../core/object/object-admin.ts";
import { createRuntimeWith } from "../embedded/create-runtime.ts";
import { runtimeAdmin } from "../embedded/runtime-admin.ts";
import { type AdminFile, readAdminFile } from "./admin-listener.ts";
import { resolveServerOptions, type ServerFlags, UsageError } from "./options.ts";
import { formatTable } from "./text-table.ts";

/** Where `stead objects` finds the objects: a server's admin API, or a data directory. */
export interface ObjectsFlags extends Pick<ServerFlags, "dataDir" | "storage"> {
  /** The app's directory (its data under `<dir>/.stead`); default: the current one. */
  dir?: string;
  url?: string;
  json?: boolean;
}

type Write = (text: string) => void;

/** `stead objects list CLASS`: the class's objects, by id, with their names where known. */
export async function objectsListCommand(
  className: string,
  flags: ObjectsFlags & { prefix?: string; limit?: string; cursor?: string },
  write: Write,
): Promise<void> {
  await withOperations(flags, async (ops) => {
    const page = await ops.list(className, {
      ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
      ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }),
      ...(flags.limit === undefined ? {} : { limit: Number(flags.limit) }),
    });
    if (flags.json === true) return write(`${JSON.stringify(page, null, 2)}\n`);
    write(formatTable([["ID", "NAME"], ...page.objects.map(({ id, name }) => [id, name ?? "-"])]));
    write(
      `${page.objects.length} of ${page.total} object${page.total === 1 ? "" : "s"}${page.cursor === null ? "" : `; next page: --cursor ${page.cursor}`}\n`,
    );
  });
}

/** `stead objects inspect CLASS NAME|ID`: what one object holds. */
export async function objectsInspectCommand(
  className: string,
  object: string,
  flags: ObjectsFlags,
  write: Write,
): Promise<void> {
  await withOperations(flags, async (ops) => {
    const inspection = await ops.inspect(className, object);
    write(flags.json === true ? `${JSON.stringify(inspection, null, 2)}\n` : describe(inspection));
  });
}

/** `stead objects sql CLASS NAME|ID QUERY`: a query as an event of the object. */
export async function objectsSqlCommand(
  className: string,
  object: string,
  query: string,
  flags: ObjectsFlags & { write?: boolean; param?: string[] },
  write: Write,
): Promise<void> {
  await withOperations(flags, async (ops) => {
    const result = await ops.sql(className, object, query, {
      params: (flags.param ?? []).map(parseParam),
      write: flags.write === true,
    });
    if (flags.json === true) return write(`${JSON.stringify(result, null, 2)}\n`);
    if (result.columns.length > 0) {
      write(formatTable([result.columns, ...result.rows.map((row) => row.map(cell))]));
    }
    write(
      `${result.rows.length} row${result.rows.length === 1 ? "" : "s"}; ${result.rowsRead} read, ${result.rowsWritten} written\n`,
    );
  });
}

/** `stead objects delete CLASS NAME|ID --yes`: deletes the object's storage and alarm. */
export async function objectsDeleteCommand(
  className: string,
  object: string,
  flags: ObjectsFlags & { yes?: boolean },
  write: Write,
): Promise<void> {
  if (flags.yes !== true) {
    throw new UsageError(
      `This deletes every key, table and the alarm of ${className} ${object}, for good. Pass --yes to confirm.`,
    );
  }
  await withOperations(flags, async (ops) => {
    await ops.delete(className, object);
    write(`Deleted the storage of ${className} ${object}.\n`);
  });
}

/**
 * `stead objects dead-letters [retry|discard CLASS OBJECT]`: alarms that failed every retry;
 * retry one object's (its alarm set to now) or discard them.
 */
export async function deadLettersCommand(
  action: string | undefined,
  className: string | undefined,
  object: string | undefined,
  flags: ObjectsFlags & { yes?: boolean },
  write: Write,
): Promise<void> {
  if (action !== undefined) {
    if (
      (action !== "retry" && action !== "discard") ||
      className === undefined ||
      object === undefined
    ) {
      throw new UsageError(
        "Use: stead objects dead-letters (to list them), or stead objects dead-letters retry|discard <class> <object>.",
      );
    }
    if (action === "discard" && flags.yes !== true) {
      throw new UsageError(
        `This drops the dead-lettered alarms of ${className} ${object} for good. Pass --yes to confirm.`,
      );
    }
    return withOperations(flags, async (ops) => {
      const count =
        action === "retry"
          ? await ops.retryDeadLetters(className, object)
          : await ops.discardDeadLetters(className, object);
      write(
        action === "retry"
          ? `The alarm of ${className} ${object} runs again now (${count} dead letter${count === 1 ? "" : "s"} cleared).\n`
          : `Discarded ${count} dead letter${count === 1 ? "" : "s"} of ${className} ${object}.\n`,
      );
    });
  }
  await withOperations(flags, async (ops) => {
    const letters = await ops.deadLetters();
    if (flags.json === true) return write(`${JSON.stringify(letters, null, 2)}\n`);
    if (letters.length === 0) return write("No dead-lettered alarms.\n");
    write(
      formatTable([
        ["CLASS", "OBJECT", "SCHEDULED", "GIVEN UP", "RETRIES", "ERROR"],
        ...letters.map((letter) => [
          letter.namespace,
          letter.name ?? letter.id,
          new Date(letter.scheduledTime).toISOString(),
          new Date(letter.failedAt).toISOString(),
          String(letter.retryCount),
          letter.error.split("\n")[0]!.slice(0, 80),
        ]),
      ]),
    );
  });
}

/** How `withOperations` reached the objects. */
export type Through = "admin-api" | "data-dir";

/**
 * Runs `use` against the objects: the admin API at `--url` (or STEAD_ADMIN_URL); else the data
 * directory, opened without the app's code; or, when a server holds that directory, the admin
 * API it announced in it (`admin.json`).
 */
export async function withOperations(
  flags: ObjectsFlags,
  use: (ops: AdminOperations, through: Through) => Promise<void>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const url = flags.url ?? env.STEAD_ADMIN_URL;
  if (url !== undefined) {
    return use(new AdminClient(url, tokenFor(url, env, undefined)), "admin-api");
  }
  const options = resolveServerOptions(flags.dir, flags, { dev: false }, env);
  const announced = readAdminFile(options.dataDir);
  const client = (file: AdminFile) =>
    use(new AdminClient(file.url, tokenFor(file.url, env, file.token)), "admin-api");
  if (options.storage !== undefined) {
    // Objects stored in PostgreSQL are served by whichever server holds them: never offline.
    if (announced !== undefined) return client(announced);
    throw new UsageError(
      "With PostgreSQL storage, a server may hold any object, so stead objects works through its admin API: pass --url http://<host>:<admin-port> (or set STEAD_ADMIN_URL), or run it on the data directory of a server started with --admin-port.",
    );
  }
  let runtime: Awaited<ReturnType<typeof createRuntimeWith>>;
  try {
    runtime = await createRuntimeWith({ main: {}, dataDir: options.dataDir }, { toolsOnly: true });
  } catch (error) {
    if (!(error instanceof SteadError) || error.code !== "DATA_DIR_LOCKED") throw error;
    if (announced === undefined) {
      throw new UsageError(
        `${error.message}\nA running server is reached through its admin API: start it with --admin-port <port>, then run this again (or pass --url).`,
      );
    }
    return client(announced);
  }
  await using _ = runtime;
  await use(new AdminApi(runtimeAdmin(runtime)), "data-dir");
}

function tokenFor(url: string, env: NodeJS.ProcessEnv, announced: string | undefined): string {
  const token = env.STEAD_ADMIN_TOKEN ?? env.STEAD_ADMIN_READ_TOKEN ?? announced;
  if (token === undefined) {
    throw new UsageError(
      `The admin API at ${url} needs a token: set STEAD_ADMIN_TOKEN (or STEAD_ADMIN_READ_TOKEN to only read).`,
    );
  }
  return token;
}

/** `--param` values: JSON (numbers, strings, null, `{"base64": ...}`), else the text itself. */
function parseParam(text: string): AdminValue {
  try {
    return JSON.parse(text) as AdminValue;
  } catch {
    return text;
  }
}

function cell(value: AdminValue): string {
  if (value === null) return "NULL";
  if (typeof value === "object") return `<${Buffer.from(value.base64, "base64").length} bytes>`;
  return String(value);
}

function describe(inspection: ObjectInspection): string {
  const lines = [
    `id         ${inspection.id}`,
    `name       ${inspection.name ?? "-"}`,
    `database   ${inspection.databaseBytes} bytes`,
    `alarm      ${inspection.alarm === null ? "none" : new Date(inspection.alarm).toISOString()}`,
    `active     ${inspection.lastActivity === null ? "not since it last left memory" : new Date(inspection.lastActivity).toISOString()}`,
    `websockets ${inspection.webSockets.hibernatable} hibernatable, ${inspection.webSockets.standard} standard`,
    `kv         ${inspection.kv.keys} key${inspection.kv.keys === 1 ? "" : "s"}, ${inspection.kv.bytes} bytes`,
    ...inspection.kv.first.map(({ key, bytes }) => `  ${key}  ${bytes} bytes`),
    `tables     ${inspection.tables.length === 0 ? "none" : ""}`,
    ...inspection.tables.map(({ name, rows }) => `  ${name}  ${rows} row${rows === 1 ? "" : "s"}`),
  ];
  return `${lines.map((line) => line.trimEnd()).join("\n")}\n`;
}
