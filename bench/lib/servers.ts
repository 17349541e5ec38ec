// Starting and stopping the servers under test: `stead start` (local disk, or PostgreSQL storage
// in a fresh schema), `workerd serve`, and the raw `node:http` server of the bench's own (the
// ceiling), each a real child process on 127.0.0.1 with its own temporary directory.
import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSchema, type PostgresProbe } from "./postgres.ts";
import {
  type Confinement,
  freePort,
  makeTempDir,
  removeTempDir,
  startChild,
  stopChild,
  tail,
} from "./processes.ts";
import { type BenchApp, workerdBinary, writeWorkerdConfig } from "./workerd-config.ts";

export type RuntimeName = "stead" | "stead-pg" | "workerd" | "node";
export const RUNTIMES: readonly RuntimeName[] = ["stead", "stead-pg", "workerd", "node"];
/** What `npm run bench` compares without `--runtimes` or `--storage`. */
export const DEFAULT_RUNTIMES: readonly RuntimeName[] = ["stead", "workerd", "node"];
/** How output names each runtime. */
export const RUNTIME_LABELS: Record<RuntimeName, string> = {
  stead: "Stead",
  "stead-pg": "Stead+PG",
  workerd: "workerd",
  node: "node:http",
};

/**
 * The runtimes that serve the bench app; `node` is the raw `node:http` server
 * (`bench/node/hello-server.ts`): fixed bodies over HTTP only, so no WebSocket workload (w5).
 */
export function servesWorkload(runtime: RuntimeName, kind: "http" | "fanout" | "cold"): boolean {
  return runtime !== "node" || kind !== "fanout";
}

/** A server under test, listening and answering. */
export interface RunningServer {
  readonly runtime: RuntimeName;
  readonly pid: number;
  readonly port: number;
  /** "http://127.0.0.1:<port>" */
  readonly url: string;
  readonly logFile: string;
  /** Stead+PG only: its schema, and what PostgreSQL did for it. */
  readonly postgres?: PostgresProbe;
  /** Stead with `adminToken`: where its admin listener answers (`/metrics`). */
  readonly adminUrl?: string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its temp dir (and schema). */
  stop(): Promise<void>;
}

export interface StartOptions {
  app: BenchApp;
  confinement: Confinement;
  /** Stead only: write a V8 CPU profile into this directory on exit. */
  cpuProfileDir?: string;
  /** Stead+PG: the PostgreSQL URL (no schema) to make the server's schema in. */
  postgresUrl?: string;
  /** Stead: start its admin listener (`--admin-port`) with this token (STEAD_ADMIN_TOKEN). */
  adminToken?: string;
  /** Stead: a change feed (STEAD_FEED_CLASSES, STEAD_FEED_SINKS). */
  feed?: { classes: string[]; sinks: string[] };
  /** Stead: object threads (`--threads`; default: the CLI's). */
  threads?: number;
  readyTimeoutMs: number;
}

const STEAD_CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const HELLO_SERVER = fileURLToPath(new URL("../node/hello-server.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../../", import.meta.url));

export async function startServer(
  runtime: RuntimeName,
  options: StartOptions,
): Promise<RunningServer> {
  const dir = makeTempDir(runtime);
  const logFile = join(dir, "server.log");
  const port = await freePort();
  let child: ChildProcess;
  let probe: PostgresProbe | undefined;
  let adminUrl: string | undefined;
  if (runtime === "stead" || runtime === "stead-pg") {
    const nodeFlags =
      options.cpuProfileDir === undefined
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`];
    let storageFlags: string[] = [];
    if (runtime === "stead-pg") {
      if (options.postgresUrl === undefined) throw new Error("internal: stead-pg needs a URL");
      try {
        probe = await createSchema(options.postgresUrl);
      } catch (error) {
        removeTempDir(dir);
        throw error;
      }
      // Objects stored in PostgreSQL run on the main thread for now.
      storageFlags = ["--storage", probe.storageUrl, "--threads", "0"];
    }
    let adminFlags: string[] = [];
    if (options.adminToken !== undefined) {
      const adminPort = await freePort();
      adminUrl = `http://127.0.0.1:${adminPort}`;
      adminFlags = ["--admin-port", String(adminPort)];
    }
    child = startChild(
      process.execPath,
      [
        ...nodeFlags,
        STEAD_CLI,
        "start",
        options.app.dir,
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        "--data-dir",
        join(dir, "data"),
        "--log-format",
        "json",
        "--shutdown-timeout",
        "2000",
        ...storageFlags,
        ...adminFlags,
        ...(options.threads === undefined ? [] : ["--threads", String(options.threads)]),
      ],
      {
        logFile,
        confinement: options.confinement,
        cwd: REPO,
        env: {
          ...process.env,
          ...(options.adminToken === undefined ? {} : { STEAD_ADMIN_TOKEN: options.adminToken }),
          ...(options.feed === undefined
            ? {}
            : {
                STEAD_FEED_CLASSES: options.feed.classes.join(","),
                STEAD_FEED_SINKS: options.feed.sinks.join(" "),
              }),
        },
      },
    );
  } else if (runtime === "node") {
    child = startChild(
      process.execPath,
      [HELLO_SERVER, "--port", String(port), "--host", "127.0.0.1"],
      { logFile, confinement: options.confinement, cwd: dir },
    );
  } else {
    mkdirSync(join(dir, "do"));
    const config = writeWorkerdConfig(options.app, dir, port);
    child = startChild(workerdBinary(), ["serve", config], {
      logFile,
      confinement: options.confinement,
      cwd: dir,
    });
  }
  const url = `http://127.0.0.1:${port}`;
  const server: RunningServer = {
    runtime,
    pid: child.pid!,
    port,
    url,
    logFile,
    ...(probe === undefined ? {} : { postgres: probe }),
    ...(adminUrl === undefined ? {} : { adminUrl }),
    async stop() {
      // A graceful stop only matters when a CPU profile must be written on exit; otherwise
      // the data is thrown away, so do not wait for databases to be checkpointed and closed.
      await stopChild(child, options.cpuProfileDir === undefined ? 0 : 10_000);
      removeTempDir(dir);
      await probe?.drop().catch((error: unknown) => {
        process.stderr.write(
          `bench: could not drop the schema ${probe.schema}: ${(error as Error).message}\n`,
        );
      });
    },
  };
  try {
    await waitUntilReady(child, url, options.readyTimeoutMs);
  } catch (error) {
    const log = tail(logFile);
    await server.stop();
    throw new Error(`${runtime} did not start: ${(error as Error).message}\n${log}`);
  }
  return server;
}

async function waitUntilReady(child: ChildProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    }
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      const body = await response.text();
      if (response.status === 200 && body === "ok") return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no answer on ${url}/health within ${timeoutMs} ms`);
}
