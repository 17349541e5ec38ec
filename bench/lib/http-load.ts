// HTTP load: autocannon (programmatic, in this process) or wrk (a child process) when present.
// Both keep `connections` keep-alive connections busy with one request in flight each.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Latencies } from "./stats.ts";

export type LoadTool = "autocannon" | "wrk";

/** What one load run measured. */
export interface LoadResult {
  tool: LoadTool;
  /** Responses with a 2xx status. */
  ok: number;
  /** Responses with another status, plus connection errors and timeouts. */
  failed: number;
  seconds: number;
  /** ok / seconds */
  perSecond: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Failures by kind: "status 500", "error ECONNRESET", "timeout", ... */
  failures: Record<string, number>;
}

export interface HttpLoad {
  url: string;
  connections: number;
  /** Path of each request (called per request). */
  path: () => string;
  /** The same as a Lua expression, for wrk. */
  luaPath: string;
  /** Run for this long... */
  seconds?: number;
  /** ...or until this many requests were answered (autocannon only). */
  amount?: number;
  /** Hard stop, whatever happens. */
  capMs: number;
  /** Stops the run when it settles (autocannon only): a load kept up while something else runs. */
  until?: Promise<unknown>;
}

interface AutocannonInstance {
  on(
    event: "response",
    listener: (client: unknown, status: number, bytes: number, ms: number) => void,
  ): void;
  on(event: "reqError", listener: (error: NodeJS.ErrnoException) => void): void;
  stop(): void;
}

type Autocannon = (
  options: Record<string, unknown>,
  done: (error: Error | null, result: unknown) => void,
) => AutocannonInstance;

const require = createRequire(import.meta.url);

export function runAutocannon(load: HttpLoad): Promise<LoadResult> {
  const autocannon = require("autocannon") as Autocannon;
  const latencies = new Latencies();
  let ok = 0;
  let failed = 0;
  const failures: Record<string, number> = {};
  const fail = (kind: string) => {
    failed++;
    failures[kind] = (failures[kind] ?? 0) + 1;
  };
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let finished = performance.now();
    const instance = autocannon(
      {
        url: load.url,
        connections: load.connections,
        pipelining: 1,
        timeout: 10,
        ...(load.amount === undefined ? { duration: load.seconds } : { amount: load.amount }),
        requests: [
          {
            method: "GET",
            setupRequest: (request: Record<string, unknown>) => ({ ...request, path: load.path() }),
          },
        ],
      },
      (error) => {
        clearTimeout(cap);
        if (error) return reject(error);
        const seconds = (finished - started) / 1000;
        const [p50Ms, p99Ms] = latencies.percentiles(50, 99);
        resolve({
          tool: "autocannon",
          ok,
          failed,
          seconds,
          perSecond: ok / seconds,
          p50Ms,
          p99Ms,
          failures,
        });
      },
    );
    const cap = setTimeout(() => instance.stop(), load.capMs);
    load.until?.finally(() => instance.stop());
    instance.on("response", (_client, status, _bytes, ms) => {
      finished = performance.now();
      if (status >= 200 && status < 300) {
        ok++;
        latencies.add(ms);
      } else {
        fail(`status ${status}`);
      }
    });
    instance.on("reqError", (error) => {
      fail(error.code === undefined ? `error ${error.message}` : `error ${error.code}`);
    });
  });
}

/** Runs wrk for `load.seconds` with one thread (it shares one core with nothing else). */
export function runWrk(load: HttpLoad, scratchDir: string): Promise<LoadResult> {
  const script = join(scratchDir, "request.lua");
  writeFileSync(script, `request = function()\n  return wrk.format("GET", ${load.luaPath})\nend\n`);
  // wrk takes whole seconds only.
  const seconds = Math.max(1, Math.round(load.seconds ?? 10));
  return new Promise((resolve, reject) => {
    execFile(
      "wrk",
      [
        "-t1",
        `-c${load.connections}`,
        `-d${seconds}s`,
        "--timeout",
        "10s",
        "--latency",
        "-s",
        script,
        load.url,
      ],
      { timeout: load.capMs, encoding: "utf8" },
      (error, stdout) => {
        if (error) return reject(new Error(`wrk failed: ${error.message}\n${stdout}`));
        try {
          resolve(parseWrk(stdout));
        } catch (parseError) {
          reject(parseError);
        }
      },
    );
  });
}

function parseWrk(output: string): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(output);
  if (!total) throw new Error(`unexpected wrk output:\n${output}`);
  const requests = Number(total[1]);
  const seconds = duration(Number(total[2]), total[3]!) / 1000;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const percentile = (p: number) => {
    const match = new RegExp(`^\\s*${p}(?:\\.0+)?%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(output);
    return match ? duration(Number(match[1]), match[2]!) : undefined;
  };
  const [p50Ms, p99Ms] = [percentile(50), percentile(99)];
  if (p50Ms === undefined || p99Ms === undefined) {
    process.stderr.write(`bench: could not read wrk's latency percentiles from:\n${output}\n`);
  }
  const ok = requests - non2xx;
  const failures: Record<string, number> = {};
  if (non2xx > 0) failures["status not 2xx"] = non2xx;
  if (socketErrors > 0) failures["socket errors"] = socketErrors;
  return {
    failures,
    tool: "wrk",
    ok,
    failed: non2xx + socketErrors,
    seconds,
    perSecond: ok / seconds,
    p50Ms,
    p99Ms,
  };
}

/** wrk's value and unit, in milliseconds. */
function duration(value: number, unit: string): number {
  if (unit === "us") return value / 1000;
  if (unit === "ms") return value;
  if (unit === "s") return value * 1000;
  return value * 60_000;
}
