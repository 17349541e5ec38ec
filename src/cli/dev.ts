import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { type FSWatcher, watch } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { sep } from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "./logger.ts";
import type { ServerOptions } from "./options.ts";

/** Paths under the app directory whose changes do not reload the app. */
const IGNORED = [".stead", "node_modules", ".git", ".wrangler", ".dev.vars.example"];
const DEBOUNCE_MS = 100;
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

/**
 * `stead dev`: serves the app in a child process and restarts it when a file in the app
 * directory changes. A restart is a code update: objects reset, sockets close with 1012, data
 * stays. A child that fails to start (a broken config or module) waits for the next change.
 */
export async function devCommand(requested: ServerOptions): Promise<void> {
  const logger = createLogger(requested.logFormat);
  // Reloads must keep the address: pick the free port once, not at every restart.
  const options =
    requested.port === 0 ? { ...requested, port: await freePort(requested.host) } : requested;
  let child: ChildProcess | undefined;
  let stopping = false;
  let pending: NodeJS.Timeout | undefined;

  const startChild = () => {
    child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        MAIN,
        "__serve",
        options.dir,
        "--port",
        String(options.port),
        "--host",
        options.host,
        "--data-dir",
        options.dataDir,
        "--log-format",
        options.logFormat,
        "--shutdown-timeout",
        String(Math.min(options.shutdownTimeoutMs, 5000)),
        "--hibernate-after",
        String(options.hibernateAfterMs),
        ...(options.maxOpenDatabases === undefined
          ? []
          : ["--max-open-databases", String(options.maxOpenDatabases)]),
        ...(options.historyRetentionDays === undefined
          ? []
          : ["--history-retention-days", String(options.historyRetentionDays)]),
        ...(options.maxConnections === undefined
          ? []
          : ["--max-connections", String(options.maxConnections)]),
        ...(options.env === undefined ? [] : ["--env", options.env]),
        ...(options.main === undefined ? [] : ["--main", options.main]),
        "--threads",
        String(options.threads),
      ],
      // The IPC channel closes when this process dies, however it dies: the child then exits too.
      { stdio: ["inherit", "inherit", "inherit", "ipc"] },
    );
    const current = child;
    current.on("exit", (code, signal) => {
      if (child === current) child = undefined;
      if (stopping) return;
      if (signal === null && code !== 0)
        logger.error("The app stopped; waiting for a file change to restart it.");
    });
  };

  const restart = async (file: string) => {
    logger.info(`Reloading: ${file} changed`);
    const current = child;
    if (current) {
      const exited = new Promise((resolve) => current.once("exit", resolve));
      current.kill("SIGTERM");
      await exited;
    }
    if (!stopping) startChild();
  };

  const watcher: FSWatcher = watch(options.dir, { recursive: true }, (_event, name) => {
    if (name === null) return;
    const file = String(name);
    const top = file.split(sep)[0] ?? "";
    if (IGNORED.includes(top) || file.endsWith("~") || file.includes(`${sep}node_modules${sep}`))
      return;
    clearTimeout(pending);
    pending = setTimeout(() => void restart(file), DEBOUNCE_MS);
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    watcher.close();
    clearTimeout(pending);
    const current = child;
    if (!current) process.exit(0);
    current.once("exit", () => process.exit(0));
    current.kill(signal);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  startChild();
}

/** A port that is free on `host` right now. */
async function freePort(host: string): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}
