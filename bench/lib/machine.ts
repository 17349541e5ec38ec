// What the numbers were measured on.
import { execFileSync } from "node:child_process";
import { cpus, release, totalmem } from "node:os";
import { workerdBinary, workerdPackageVersion } from "./workerd-config.ts";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  workerd: string;
  steadCommit: string;
  /** Filesystem type of the temp dir the servers store into. */
  filesystem: string;
}

export function describeMachine(tempDir: string): Machine {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: `Linux ${release()}`,
    node: process.version,
    workerd: `${workerdPackageVersion()} (${run(workerdBinary(), ["--version"]) ?? "?"})`,
    steadCommit: steadCommit(),
    filesystem: run("findmnt", ["-n", "-o", "FSTYPE", "-T", tempDir]) ?? "unknown",
  };
}

/** The commit Stead's sources are at, noting uncommitted changes under src/. */
export function steadCommit(): string {
  const head = run("git", ["rev-parse", "--short", "HEAD"]);
  if (head === undefined) return "unknown";
  const dirty = run("git", ["status", "--porcelain", "--", "src"]);
  return dirty ? `${head} + uncommitted changes in src/` : head;
}

function run(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}
