import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PREFIX = "stead-build-";

/**
 * A new directory for one build, under the system's temporary directory: the app's own
 * directory may be read-only, and the data directory holds only what Stead must keep. The name
 * carries this process's id, so directories left by a process that died are removed here.
 */
export function createBuildDir(): string {
  removeOrphanedBuildDirs();
  return mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
}

/** Removes a build directory and everything in it. */
export function removeBuildDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

function removeOrphanedBuildDirs(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^stead-build-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    try {
      removeBuildDir(join(tmpdir(), name));
    } catch {
      // Another user's directory (a sticky /tmp): theirs to remove.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, run by another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
