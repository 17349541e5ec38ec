// `node bench/backup.ts [options]`: the cost of an online backup. Starts `stead start bench/app`
// with its admin API, makes 10,000 objects (w2's: one KV counter each), measures w2's load on
// 1,000 of them (the objects in use; the other 9,000 have left memory) for a while, then runs
// `stead backup` through the admin API while the same load keeps going, and reports the
// backup's objects/s and the latency of the requests served during it beside the same figures
// without it. Appends an entry to bench/RESULTS.md and writes
// bench/results/<date>-backup.json. `--help` for options.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type LoadResult, runAutocannon } from "./lib/http-load.ts";
import { describeMachine, steadCommit } from "./lib/machine.ts";
import {
  closePostgres,
  createSchema,
  DEFAULT_POSTGRES_URL,
  type PostgresProbe,
} from "./lib/postgres.ts";
import {
  type Confinement,
  freePort,
  installCleanupHandlers,
  makeTempDir,
  peakRss,
  removeStaleTempDirs,
  removeTempDir,
  startChild,
  stopChild,
  tail,
  which,
} from "./lib/processes.ts";

const BENCH = fileURLToPath(new URL(".", import.meta.url));
const STEAD_CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../", import.meta.url));
const TOKEN = "bench-backup-admin-token-0123456789";
/** Objects the load requests: the working set, in memory (w2's). */
const IN_USE = 1000;

const HELP = `Usage: node bench/backup.ts [options]

Backs up 10,000 objects of a running \`stead start\` through its admin API while requests keep
coming to 1,000 of them (w2), and reports the backup's objects/s and the p99 of those requests
with and without the backup.

Options:
  --objects <n>       objects to make and back up (default 10000; quick 1000)
  --seconds <n>       the measurement without a backup, seconds (default 10; quick 3)
  --connections <n>   HTTP connections of the load (default 32)
  --concurrency <n>   objects the backup copies at once (stead backup --concurrency; default 4)
  --storage <url>     "postgres" (${DEFAULT_POSTGRES_URL}) or a postgres:// URL: the server
                      stores in a fresh schema there (--threads 0)
  --quick             --objects 1000 --seconds 3
  --cpu-prof <dir>    write a V8 CPU profile of the server into <dir> (summarize it with
                      node bench/profile.ts <file>)
  --no-pin            do not pin the server to CPU 0 and this process (load, backup) to CPU 1
  --no-record         print only: no bench/results/*.json, no RESULTS.md entry
  -h, --help          this text
`;

interface Settings {
  objects: number;
  seconds: number;
  connections: number;
  concurrency: number;
  postgresUrl: string | undefined;
  confinement: Confinement;
  record: boolean;
  quick: boolean;
  cpuProfileDir: string | undefined;
}

function parseSettings(): Settings {
  const { values } = parseArgs({
    options: {
      objects: { type: "string" },
      seconds: { type: "string" },
      connections: { type: "string" },
      concurrency: { type: "string" },
      storage: { type: "string" },
      quick: { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
      "no-pin": { type: "boolean", default: false },
      "no-record": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const number = (raw: string | undefined, fallback: number, name: string) => {
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`--${name} must be a positive number`);
    return value;
  };
  const storage = values.storage;
  const canPin = !values["no-pin"] && which("taskset") !== undefined && availableParallelism() >= 2;
  return {
    objects: number(values.objects, values.quick ? 1000 : 10_000, "objects"),
    seconds: number(values.seconds, values.quick ? 3 : 10, "seconds"),
    connections: number(values.connections, 32, "connections"),
    concurrency: number(values.concurrency, 4, "concurrency"),
    postgresUrl:
      storage === undefined ? undefined : storage === "postgres" ? DEFAULT_POSTGRES_URL : storage,
    confinement: { cpus: canPin ? "0" : undefined },
    record: !values["no-record"],
    quick: values.quick,
    cpuProfileDir: values["cpu-prof"],
  };
}

interface Server {
  pid: number;
  url: string;
  adminUrl: string;
  logFile: string;
  /** Stops the process gracefully and starts it again on the same data (and schema). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function startStead(settings: Settings, dir: string): Promise<Server> {
  const logFile = join(dir, "server.log");
  let probe: PostgresProbe | undefined;
  const storage: string[] = [];
  if (settings.postgresUrl !== undefined) {
    probe = await createSchema(settings.postgresUrl);
    storage.push("--storage", probe.storageUrl, "--threads", "0");
  }
  const launch = async () => {
    const port = await freePort();
    const adminPort = await freePort();
    const child = startChild(
      process.execPath,
      [
        ...(settings.cpuProfileDir === undefined
          ? []
          : ["--cpu-prof", `--cpu-prof-dir=${settings.cpuProfileDir}`]),
        STEAD_CLI,
        "start",
        join(BENCH, "app"),
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        "--data-dir",
        join(dir, "data"),
        "--log-format",
        "json",
        "--admin-port",
        String(adminPort),
        ...storage,
      ],
      {
        logFile,
        confinement: settings.confinement,
        cwd: REPO,
        env: { ...process.env, STEAD_ADMIN_TOKEN: TOKEN },
      },
    );
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`stead exited:\n${tail(logFile)}`);
      const ok = await fetch(`${url}/health`)
        .then((r) => r.text())
        .then((body) => body === "ok")
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`stead did not serve:\n${tail(logFile)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { child, url, adminUrl: `http://127.0.0.1:${adminPort}` };
  };
  let running = await launch();
  const server: Server = {
    pid: running.child.pid!,
    url: running.url,
    adminUrl: running.adminUrl,
    logFile,
    async restart() {
      await stopChild(running.child, 60_000);
      running = await launch();
      Object.assign(server, {
        pid: running.child.pid!,
        url: running.url,
        adminUrl: running.adminUrl,
      });
    },
    async stop() {
      // A CPU profile is written on a graceful exit only.
      await stopChild(running.child, settings.cpuProfileDir === undefined ? 0 : 20_000);
      await probe?.drop().catch(() => {});
    },
  };
  return server;
}

/** Runs `stead backup` (on this process's CPU) and resolves with its wall time and output. */
function runBackup(
  server: Server,
  dest: string,
  concurrency: number,
): Promise<{ seconds: number; output: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [STEAD_CLI, "backup", dest, "--url", server.adminUrl, "--concurrency", String(concurrency)],
      { env: { ...process.env, STEAD_ADMIN_TOKEN: TOKEN }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("exit", (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve({ seconds, output });
      else reject(new Error(`stead backup exited with ${code}:\n${output}`));
    });
  });
}

function load(
  server: Server,
  settings: Settings,
  extra: { seconds?: number; until?: Promise<unknown> },
) {
  return runAutocannon({
    url: server.url,
    connections: settings.connections,
    path: () => `/w2/${Math.floor(Math.random() * Math.min(IN_USE, settings.objects))}`,
    luaPath: "",
    ...(extra.seconds === undefined ? { seconds: 3600 } : { seconds: extra.seconds }),
    capMs: 3_600_000,
    ...(extra.until === undefined ? {} : { until: extra.until }),
  });
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined ? "-" : n.toLocaleString("en-US", { maximumFractionDigits: digits });
}

async function main(): Promise<void> {
  const settings = parseSettings();
  installCleanupHandlers();
  removeStaleTempDirs();
  if (settings.confinement.cpus !== undefined) {
    execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
  }
  const dir = makeTempDir("backup");
  const machine = describeMachine(dir);
  const loadAtStart = loadavg()[0]!;
  const server = await startStead(settings, dir);
  try {
    process.stderr.write(`bench: making ${settings.objects} objects...\n`);
    let next = 0;
    const made = await runAutocannon({
      url: server.url,
      connections: settings.connections,
      path: () => `/w2/${next++}`,
      luaPath: "",
      amount: settings.objects,
      capMs: 600_000,
    });
    if (made.failed > 0)
      throw new Error(`making the objects failed: ${JSON.stringify(made.failures)}`);
    // A server with that many objects stored, restarted: the objects are at rest, as most
    // objects of a server are; the load's objects come into memory in the warm-up.
    process.stderr.write("bench: restarting the server...\n");
    await server.restart();
    await load(server, settings, { seconds: settings.quick ? 1 : 3 });
    process.stderr.write(`bench: ${settings.seconds} s of load without a backup...\n`);
    const before = await load(server, settings, { seconds: settings.seconds });
    process.stderr.write("bench: the backup, with the same load...\n");
    const dest = join(dir, "backup");
    let backupDone!: (value?: unknown) => void;
    const finished = new Promise((resolve) => (backupDone = resolve));
    const during = load(server, settings, { until: finished });
    const backup = await runBackup(server, dest, settings.concurrency).finally(() => backupDone());
    const loaded: LoadResult = await during;
    const manifest = JSON.parse(readFileSync(join(dest, "manifest.json"), "utf8"));
    const copySeconds = (Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt)) / 1000;
    const bytes = Object.values(manifest.files as Record<string, { bytes: number }>).reduce(
      (sum, file) => sum + file.bytes,
      0,
    );
    process.stderr.write("bench: verifying the backup...\n");
    const verifyStarted = performance.now();
    execFileSync(process.execPath, [STEAD_CLI, "backup", "verify", dest], { stdio: "ignore" });
    const verifySeconds = (performance.now() - verifyStarted) / 1000;
    const after = await load(server, settings, { seconds: settings.seconds });
    const result = {
      date: new Date().toISOString(),
      machine,
      loadAverage: { atStart: loadAtStart, atEnd: loadavg()[0] },
      settings: { ...settings, confinement: settings.confinement.cpus ?? "none" },
      storage: settings.postgresUrl === undefined ? "local" : "postgres",
      objects: manifest.objects as number,
      bytes,
      made: { perSecond: made.perSecond },
      backup: {
        wallSeconds: backup.seconds,
        copySeconds,
        objectsPerSecond: manifest.objects / copySeconds,
        output: backup.output.trim(),
      },
      verifySeconds,
      load: { before, during: loaded, after },
      serverPeakRssMB: (peakRss(server.pid) ?? 0) / 1e6,
    };
    const table = [
      "| | req/s | p50 ms | p99 ms | failed |",
      "|---|---:|---:|---:|---:|",
      ...(
        [
          ["without a backup (before)", before],
          [`during the backup (${fmt(loaded.seconds)} s)`, loaded],
          ["without a backup (after)", after],
        ] as const
      ).map(
        ([label, r]) =>
          `| ${label} | ${fmt(r.perSecond, 0)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${r.failed} |`,
      ),
    ].join("\n");
    const summary =
      `Backed up ${fmt(result.objects, 0)} objects (${fmt(bytes / 1e6)} MB) in ${fmt(copySeconds, 2)} s: ` +
      `**${fmt(result.backup.objectsPerSecond, 0)} objects/s** (the CLI's run, with its start: ${fmt(backup.seconds, 2)} s; ` +
      `--concurrency ${settings.concurrency}); \`stead backup verify\` ${fmt(verifySeconds, 2)} s. ` +
      `Objects made at ${fmt(made.perSecond, 0)}/s. Server peak RSS ${fmt(result.serverPeakRssMB, 0)} MB. ` +
      `Machine load average (1 min, ${machine.cores} cores) ${fmt(loadAtStart, 2)} at the start, ${fmt(result.loadAverage.atEnd, 2)} at the end.`;
    process.stdout.write(`\n${summary}\n\n${table}\n`);
    if (settings.record) {
      const stamp = result.date.replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
      const jsonPath = join(BENCH, "results", `${stamp}-backup.json`);
      writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
      const entry = [
        "",
        `## ${result.date.slice(0, 16).replace("T", " ")} UTC — online backup (\`node bench/backup.ts${settings.quick ? " --quick" : ""}${settings.postgresUrl === undefined ? "" : " --storage postgres"}\`)`,
        "",
        `- Machine: ${machine.cores} × ${machine.cpuModel}, Linux ${machine.kernel.replace(/^Linux /, "")}, ${machine.filesystem}; Node ${machine.node}; Stead ${steadCommit()}.`,
        `- \`stead start bench/app\` (${result.storage === "local" ? "local disk, default threads" : "PostgreSQL storage, --threads 0"}) with ${fmt(settings.objects, 0)} objects made by \`GET /w2/<i>\` (a KV counter each); load: \`GET /w2/<random i < ${Math.min(IN_USE, settings.objects)}>\` (read and increment one of the objects in use), ${settings.connections} connections, autocannon. The server is restarted once the objects are made (so they are at rest, as most objects of a server are), then warmed up for ${settings.quick ? 1 : 3} s. ${settings.confinement.cpus === undefined ? "No CPU pinning." : "Server pinned to CPU 0; the load generator and `stead backup` (a child of the harness) on CPU 1."}`,
        "",
        summary,
        "",
        table,
        "",
        `Raw results: \`bench/results/${stamp}-backup.json\`.`,
        "",
      ].join("\n");
      writeFileSync(
        join(BENCH, "RESULTS.md"),
        readFileSync(join(BENCH, "RESULTS.md"), "utf8") + entry,
      );
      process.stdout.write(`\nRecorded in bench/RESULTS.md and ${jsonPath}\n`);
    }
  } finally {
    await server.stop();
    removeTempDir(dir);
    await closePostgres();
  }
}

await main();
