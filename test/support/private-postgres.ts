// A PostgreSQL server of the test's own (initdb in a temp dir, a free port), for tests that stop,
// crash and restart the server: the machine's shared PostgreSQL serves every other test file.
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

/** PostgreSQL's own binaries on Debian (`/usr/lib/postgresql/<version>/bin`), newest version. */
function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) {
    throw new Error(
      "No PostgreSQL binaries in /usr/lib/postgresql: install them with apt-get install -y postgresql",
    );
  }
  return join(root, versions[0]!, "bin");
}

export interface PrivatePostgres extends AsyncDisposable {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` with `?schema=` set. */
  url(schema: string): string;
  /** Stops the server: "immediate" is a crash (recovery from its WAL at the next start). */
  stop(mode: "fast" | "immediate"): void;
  /** Starts it again on the same port, returning once it accepts connections. */
  start(): void;
}

/**
 * Makes and starts a PostgreSQL cluster in a temp dir, trust auth on 127.0.0.1 only. As root
 * (CI and the development machines) the server runs as the `postgres` user, which initdb needs.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "stead-pg-"));
  const data = join(dir, "data");
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]) => {
    const file = join(bin, command);
    execFileSync(
      asRoot ? "runuser" : file,
      asRoot ? ["-u", "postgres", "--", file, ...args] : args,
      { stdio: "pipe", timeout: 60_000 },
    );
  };
  if (asRoot) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=60`;
  const start = () =>
    run("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "-t", "60", "start"]);
  start();
  return {
    url(schema) {
      return `postgres://postgres@127.0.0.1:${port}/postgres?schema=${schema}`;
    },
    stop(mode) {
      run("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]);
    },
    start,
    async [Symbol.asyncDispose]() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { uid, gid };
}
