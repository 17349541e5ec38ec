// System calls of a running server, as strace sees them: for the tests that check what is synced
// before a response leaves (test/durability/syscall-order.test.ts, queue-syscalls.test.ts).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { eventually, waitFor } from "./wait-for.ts";

/** Why the suite cannot run here, if it cannot. */
export function missingStrace(): string | undefined {
  try {
    execFileSync("strace", ["-V"], { stdio: "ignore" });
  } catch {
    return "strace is not installed (Debian package strace)";
  }
  // Yama: 1 lets only a parent (or root) trace a process, 3 lets no one attach.
  let scope = 0;
  try {
    scope = Number(readFileSync("/proc/sys/kernel/yama/ptrace_scope", "utf8"));
  } catch {
    // No Yama: attaching is allowed.
  }
  if (scope === 3 || (scope > 0 && process.getuid?.() !== 0)) {
    return `ptrace_scope ${scope} does not let strace attach to the server`;
  }
  return undefined;
}

/** One completed system call, in the order the calls returned. */
export interface Call {
  name: string;
  /** The path or socket description strace -y printed for the first argument. */
  target: string;
  /** The raw arguments, as strace printed them. */
  args: string;
}

/** Parses `strace -f -y` output into completed calls, pairing "unfinished" with "resumed". */
export function parseCalls(text: string): Call[] {
  const calls: Call[] = [];
  const pending = new Map<string, { name: string; target: string; args: string }>();
  for (const line of text.split("\n")) {
    const started =
      /^(\d+)\s+(\w+)\((\d+<([^>]*)>)?(.*?)(?: <unfinished \.\.\.>|\) += (-?\d+).*)$/.exec(line);
    const resumed = /^(\d+)\s+<\.\.\. (\w+) resumed>.*\) += (-?\d+)/.exec(line);
    if (resumed) {
      const call = pending.get(resumed[1]!);
      pending.delete(resumed[1]!);
      if (call && Number(resumed[3]) >= 0) calls.push(call);
    } else if (started) {
      const call = { name: started[2]!, target: started[4] ?? "", args: started[5] ?? "" };
      if (line.endsWith("<unfinished ...>")) pending.set(started[1]!, call);
      else if (Number(started[6]) >= 0) calls.push(call);
    }
  }
  return calls;
}

/** Attaches strace to every thread of `pid`; resolves once it is attached. */
export async function attachStrace(pid: number, log: string): Promise<ChildProcess> {
  const strace = spawn(
    "strace",
    [
      "-f",
      "-y",
      "-s",
      "16",
      "-e",
      "trace=fsync,fdatasync,pwrite64,pwritev,write,writev",
      "-o",
      log,
      "-p",
      String(pid),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  strace.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  await waitFor(() => stderr.includes("attached"), "strace to attach");
  return strace;
}

/**
 * Stops `strace` once its log shows `responses` responses, and returns the calls it traced. A
 * client can read a response before strace has logged the write that sent it (the tracee is
 * still stopped at the call's exit), so stopping strace as soon as the client has its answers can
 * lose the last call.
 */
export async function stopStrace(
  strace: ChildProcess,
  log: string,
  responses: number,
): Promise<Call[]> {
  await eventually(`strace to log ${responses} responses`, () =>
    parseCalls(readFileSync(log, "utf8")).filter(isResponse).length >= responses ? true : undefined,
  );
  strace.kill("SIGINT");
  await once(strace, "exit");
  return parseCalls(readFileSync(log, "utf8"));
}

/** A response's first bytes on a socket (one writev with its body, or a write of its own). */
export function isResponse(call: Call): boolean {
  return (call.name === "writev" || call.name === "write") && call.args.includes("HTTP/1.1");
}
