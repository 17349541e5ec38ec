import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../../src/cli/main.ts", import.meta.url));

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

/** Runs `stead <command> <args>` and waits until it serves (port 0 picks a free port). */
export async function startStead(
  command: "start" | "dev",
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; openFileLimit?: number } = {},
): Promise<SteadProcess> {
  const [file, argv] = withOpenFileLimit(
    [process.execPath, MAIN, command, ...args, "--port", "0", "--log-format", "json"],
    options.openFileLimit,
  );
  const child = spawn(file, argv, {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
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
  const url = await Promise.race([
    serving,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`stead ${command} did not serve within ${timeout} ms:\n${stderr}`)),
        timeout,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
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

/**
 * The command line that runs `command` with at most `limit` open files (`ulimit -n`, through
 * bash), or `command` as it is.
 */
export function withOpenFileLimit(
  command: string[],
  limit: number | undefined,
): [file: string, args: string[]] {
  if (limit === undefined) return [command[0]!, command.slice(1)];
  return ["bash", ["-c", `ulimit -n ${limit} && exec "$@"`, "bash", ...command]];
}
