import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AdminApi } from "../admin/admin-api.ts";
import { AdminServer } from "../admin/admin-server.ts";
import { httpFamilies } from "../admin/metrics/http-families.ts";
import { prometheusText } from "../admin/metrics/prometheus-text.ts";
import { runtimeAdmin } from "../embedded/runtime-admin.ts";
import type { Runtime } from "../embedded/worker-runtime.ts";
import type { HttpMetrics } from "../server/http-metrics.ts";
import type { Logger } from "./logger.ts";
import type { AdminFlags } from "./options.ts";

/**
 * Where a server says its admin API listens, in its data directory (mode 0600): `stead objects`
 * run on that directory while the server holds it goes there instead. It holds the token only
 * when the server made it (no STEAD_ADMIN_TOKEN).
 */
export const ADMIN_FILE = "admin.json";

/** What `<dataDir>/admin.json` says. */
export interface AdminFile {
  url: string;
  token?: string;
}

/**
 * Starts the admin API of `runtime`, with `/metrics` for it and its HTTP front (`http`); `close`
 * stops it and removes `admin.json`.
 */
export async function startAdminListener(
  runtime: Runtime,
  http: HttpMetrics,
  flags: AdminFlags,
  dataDir: string,
  logger: Logger,
): Promise<{ url: string; close(): Promise<void> }> {
  const made = flags.tokens === undefined;
  const tokens = flags.tokens ?? { readWrite: randomBytes(32).toString("base64url") };
  const admin = runtimeAdmin(runtime);
  const labels: Record<string, string> = admin.node === undefined ? {} : { node: admin.node };
  const server = await AdminServer.listen({
    host: flags.host,
    port: flags.port,
    tokens,
    api: new AdminApi(admin),
    metrics: async () =>
      prometheusText([...((await admin.metrics?.()) ?? []), httpFamilies(http)], labels),
  });
  const file = join(dataDir, ADMIN_FILE);
  const contents: AdminFile = { url: server.url, ...(made ? { token: tokens.readWrite } : {}) };
  // Removed first, so a file a crashed server left behind is never reused with its mode.
  rmSync(file, { force: true });
  writeFileSync(file, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  // The console link carries a token the server made in its fragment (never sent to the
  // server, dropped from the address bar once read); a token from STEAD_ADMIN_TOKEN is the
  // operator's own and stays out of the log.
  const consoleLink = made ? `${server.url}/#token=${tokens.readWrite}` : `${server.url}/`;
  logger.info(
    `Admin API on ${server.url}${made ? ` (its token is in ${file}; set STEAD_ADMIN_TOKEN to choose one)` : ""}. Console: ${consoleLink}`,
    { adminUrl: server.url },
  );
  return {
    url: server.url,
    async close() {
      await server.close();
      rmSync(file, { force: true });
    },
  };
}

/** The admin file of a data directory, if a server wrote one. */
export function readAdminFile(dataDir: string): AdminFile | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, ADMIN_FILE), "utf8")) as AdminFile;
  } catch {
    return undefined;
  }
}
