import { type ChildProcess, type ChildProcessByStdio, spawn } from "node:child_process";
import { once } from "node:events";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { TestStore } from "./storage.ts";

/** The CLI's entry, as the tests run it (its TypeScript source). */
export const STEAD_CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const MAIN = STEAD_CLI;

/** A `stead` CLI process under test. */
export interface SteadProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  /** Base URL it serves on (known once it logged that it is serving). */
  readonly url: string;
  /** Everything it wrote to stdout, as parsed JSON lines (non-JSON lines as `{ line }`). */
  readonly logs: Array<Record<string, unknown>>;
  /** Everything it wrote to stderr. */
  stderr(): string;
  /** Sends `signal` and resolves with how it exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** How to run a `stead` process: its environment, limits and user. */
export interface SteadProcessOptions {
  env?: NodeJS.ProcessEnv;
  /** The working directory (default: this process's). */
  cwd?: string;
  /** The CLI to run (default: src/cli/main.ts; the build's dist/cli/main.js to test the build). */
  cli?: string;
  /** The Node binary to run it with (default: this process's). */
  node?: string;
  /** `ulimit -n` for the process. */
  openFileLimit?: number;
  /** The process's umask (e.g. 0o000, to show modes do not depend on it). */
  umask?: number;
  /** Run as this user and group (the test must run as root to switch). */
  uid?: number;
  gid?: number;
  /**
   * The store to run on: its data directory (`--data-dir`) and, when the storage under test is
   * not the local driver, its storage (STEAD_STORAGE_URL). Restarts given one store share it.
   */
  store?: Pick<TestStore, "dataDir" | "env">;
}

/** Spawns a stead process with the options' environment, store, directory and user. */
function spawnWith(
  file: string,
  argv: string[],
  options: SteadProcessOptions,
  detached: boolean,
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(file, argv, {
    env: { ...process.env, ...options.store?.env, ...options.env },
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    uid: options.uid,
    gid: options.gid,
    detached,
  });
}

/** Runs `stead <args>` to completion (it must exit by itself) and returns what it printed. */
export async function runStead(args: string[], options: SteadProcessOptions = {}) {
  const [file, argv] = withShellSettings(
    [process.execPath, MAIN, ...args, ...storeArgs(options)],
    options,
  );
  const child = spawnWith(file, argv, options, false);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Runs `stead <command> <args>` and waits until it serves (port 0 picks a free port). */
export async function startStead(
  command: "start" | "dev",
  args: string[],
  options: SteadProcessOptions & {
    timeoutMs?: number;
    /**
     * What runs instead of `node <cli> <command>`, e.g. `["npm", "run", "dev", "--"]`; `args`
     * follow it. It runs in its own process group, which `stop()` signals as a whole.
     */
    launcher?: string[];
    /** The port to listen on (default 0: a free one); a restart can take the same one again. */
    port?: number;
    /** Runs once the process is spawned, before it serves (e.g. to fix what stops it serving). */
    whileStarting?: (output: { stderr(): string }) => Promise<void>;
  } = {},
): Promise<SteadProcess> {
  const [file, argv] = withShellSettings(
    [
      ...(options.launcher ?? [options.node ?? process.execPath, options.cli ?? MAIN, command]),
      ...args,
      ...storeArgs(options),
      "--port",
      String(options.port ?? 0),
      "--log-format",
      "json",
    ],
    options,
  );
  const group = options.launcher !== undefined;
  const child = spawnWith(file, argv, options, group);
  const signal = (name: NodeJS.Signals) =>
    group ? process.kill(-child.pid!, name) : child.kill(name);
  const logs: Array<Record<string, unknown>> = [];
  let stderr = "";
  let buffered = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const serving = new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line);
        } catch {
          record = { line };
        }
        logs.push(record);
        if (typeof record.url === "string") resolve(record.url);
        newline = buffered.indexOf("\n");
      }
    });
    child.once("exit", (code) =>
      reject(new Error(`stead ${command} exited with ${code} before serving:\n${stderr}`)),
    );
  });
  const timeout = options.timeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  const starting = options.whileStarting?.({ stderr: () => stderr }).then(
    () => new Promise<never>(() => {}),
    (error: unknown) => {
      signal("SIGKILL");
      throw error;
    },
  );
  const url = await Promise.race([
    serving,
    ...(starting === undefined ? [] : [starting]),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`stead ${command} did not serve within ${timeout} ms:\n${stderr}`)),
        timeout,
      );
    }),
  ])
    .catch((error: unknown) => {
      // A process that did not serve in time must not outlive the test (and keep it running).
      if (child.exitCode === null && child.signalCode === null) signal("SIGKILL");
      throw error;
    })
    .finally(() => clearTimeout(timer));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const stop = async (name: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) signal(name);
    const [code, sig] = await exited;
    return { code, signal: sig };
  };
  return {
    child,
    url,
    logs,
    stderr: () => stderr,
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
    },
  };
}

/** The arguments that point a `stead` command at `options.store`'s data directory. */
function storeArgs({ store }: SteadProcessOptions): string[] {
  return store === undefined ? [] : ["--data-dir", store.dataDir];
}

/**
 * The command line that runs `command` with at most `limit` open files (`ulimit -n`, through
 * bash), or `command` as it is.
 */
export function withOpenFileLimit(
  command: string[],
  limit: number | undefined,
): [file: string, args: string[]] {
  return withShellSettings(command, { openFileLimit: limit });
}

/**
 * The command line that runs `command` with an open-file limit and/or a umask (through bash,
 * which then `exec`s it, so the pid stays the command's), or `command` as it is.
 */
function withShellSettings(
  command: string[],
  { openFileLimit, umask }: Pick<SteadProcessOptions, "openFileLimit" | "umask">,
): [file: string, args: string[]] {
  const settings = [
    ...(openFileLimit === undefined ? [] : [`ulimit -n ${openFileLimit}`]),
    ...(umask === undefined ? [] : [`umask ${umask.toString(8).padStart(3, "0")}`]),
  ];
  if (settings.length === 0) return [command[0]!, command.slice(1)];
  return ["bash", ["-c", `${settings.join(" && ")} && exec "$@"`, "bash", ...command]];
}
