// The crash tests' workload: test/fixtures/crash-child.ts writing to a store from a child
// process until the test SIGKILLs it.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { TestStore } from "./storage.ts";

const CHILD = fileURLToPath(new URL("../fixtures/crash-child.ts", import.meta.url));

/** The run's random seed; set STEAD_CRASH_SEED to replay a failing run. */
export const CRASH_SEED = Number(
  process.env.STEAD_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31),
);

/** What one killed child printed, and how it ended. */
export interface ChildRun {
  /** Its stdout: "ready", then one line per acknowledged write (see crash-child.ts). */
  lines: string[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/**
 * Runs the workload on `store` (its `run`-th run, seeded with `seed`) and SIGKILLs it once
 * `killAfter` writes were acknowledged (0: as soon as it is up). `program`: another child of
 * the same shape (`<program> <dataDir> <run> <seed>`, printing "ready" then one line per ack).
 */
export function runAndKill(
  store: Pick<TestStore, "dataDir" | "env">,
  run: number,
  seed: number,
  killAfter: number,
  program = CHILD,
): Promise<ChildRun> {
  const child = spawn(process.execPath, [program, store.dataDir, String(run), String(seed)], {
    env: { ...process.env, ...store.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let stderr = "";
  let partial = "";
  let acks = 0;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    partial += chunk;
    const complete = partial.split("\n");
    partial = complete.pop()!;
    for (const line of complete) {
      if (line !== "ready") acks++;
      lines.push(line);
    }
    if (lines.length > 0 && acks >= killAfter) child.kill("SIGKILL");
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    // "close" comes after stdout ended: every line the child printed has been read.
    child.on("close", (code, signal) => resolve({ lines, signal, code, stderr }));
  });
}
