// Child processes and temporary directories that must not outlive the harness, and what /proc
// says about a process (memory, CPU time).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Kills every child still running and removes every temp dir (synchronous: safe in 'exit'). */
export function cleanUpNow(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let handlersInstalled = false;

/** Cleans up on exit, on SIGINT/SIGTERM/SIGHUP, and on an uncaught error. */
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", cleanUpNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping servers and removing temp dirs\n`);
      cleanUpNow();
      process.exit(130);
    });
  }
}

const TEMP_PREFIX = "stead-bench-";
const OWNER_FILE = ".bench-owner";

/** A new temporary directory, removed by `removeTempDir` or at exit. */
export function makeTempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${name}-`));
  tempDirs.add(dir);
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  return dir;
}

/**
 * Removes temp dirs left by an earlier harness that was killed outright (SIGKILL leaves no
 * chance to clean up; its servers died with it through the parent-death signal).
 */
export function removeStaleTempDirs(): void {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const dir = join(tmpdir(), entry);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), "utf8"));
    } catch {
      continue;
    }
    if (owner === process.pid || isAlive(owner)) continue;
    rmSync(dir, { recursive: true, force: true });
  }
  settleFilesystem();
}

/** Whether a process with `pid` exists (one owned by another user counts). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
  settleFilesystem();
}

/**
 * Waits until the filesystem has finished freeing what was just deleted (`sync`). Until then,
 * on this VM's ext4 (mounted with `discard`), creating a file cost about 730 µs of system CPU
 * instead of 25 µs after deleting 20,000 files: the next workload (a cold start creates three
 * files per object) would pay for the previous one's clean-up.
 */
function settleFilesystem(): void {
  try {
    execFileSync("sync", { stdio: "ignore" });
  } catch {
    // No sync(1): measurements may then be disturbed by the deletion, nothing worse.
  }
}

/** Whether an executable is on PATH. */
export function which(command: string): string | undefined {
  try {
    return execFileSync("which", [command], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A free TCP port on 127.0.0.1 (bound and released; the OS does not hand it out again soon). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}

let hasSetpriv: boolean | undefined;

/** How children are confined: which CPU they run on, and death with the harness. */
export interface Confinement {
  /** CPU list for `taskset -c`, or undefined to leave affinity alone. */
  cpus: string | undefined;
}

/**
 * Starts `command` with stdout and stderr going to `logFile`. The child gets SIGKILL if the
 * harness dies (`setpriv --pdeathsig`), and runs on `confinement.cpus` (`taskset`); both exec,
 * so the returned process id is the command's own.
 */
export function startChild(
  command: string,
  args: string[],
  options: { logFile: string; confinement: Confinement; env?: NodeJS.ProcessEnv; cwd?: string },
): ChildProcess {
  const prefix: string[] = [];
  hasSetpriv ??= which("setpriv") !== undefined;
  if (hasSetpriv) prefix.push("setpriv", "--pdeathsig", "SIGKILL", "--");
  if (options.confinement.cpus !== undefined)
    prefix.push("taskset", "-c", options.confinement.cpus);
  const argv = [...prefix, command, ...args];
  const log = openSync(options.logFile, "a");
  try {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ["ignore", log, log],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    children.add(child);
    child.once("exit", () => children.delete(child));
    return child;
  } finally {
    closeSync(log);
  }
}

/** Resolves when the child has exited; SIGTERM first, SIGKILL after `graceMs` (0: at once). */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (graceMs === 0) {
    child.kill("SIGKILL");
    return exited;
  }
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, graceMs);
  });
  await Promise.race([exited, killed]);
  clearTimeout(timer);
  await exited;
}

/** Peak resident set size of a live process, in bytes (VmHWM). */
export function peakRss(pid: number): number | undefined {
  return statusField(pid, "VmHWM");
}

/** Current resident set size of a live process, in bytes (VmRSS). */
export function currentRss(pid: number): number | undefined {
  return statusField(pid, "VmRSS");
}

function statusField(pid: number, field: string): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time of a process in seconds: user + system of all its threads, plus (with
 * `withChildren`) that of its exited, waited-for children.
 */
export function cpuSeconds(pid: number | "self", withChildren = false): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime, stime, cutime, cstime are fields 14-17 of stat(5), i.e. indices 11-14 here.
    let ticks = Number(fields[11]) + Number(fields[12]);
    if (withChildren) ticks += Number(fields[13]) + Number(fields[14]);
    return ticks / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Busy and stolen CPU time of the whole machine so far, in seconds summed over all cores. */
export function machineCpuSeconds(): { busy: number; steal: number } {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (ticks)
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return {
    busy: (user! + nice! + system! + irq! + softirq!) / CLOCK_TICKS_PER_SECOND,
    steal: steal! / CLOCK_TICKS_PER_SECOND,
  };
}

/** The last `lines` lines of a text file, for error messages. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
