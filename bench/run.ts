// `npm run bench [-- options]`: the benchmark app on Stead and on workerd (and with
// `--storage postgres` on Stead+PG, Stead storing in PostgreSQL), beside a raw `node:http` server
// answering the same URLs (the ceiling), one workload and one server at a time, with the same
// load generators; prints one table, writes bench/results/<date>.json and appends an entry to
// bench/RESULTS.md. `--help` for options.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runClusterBench } from "./cluster.ts";
import {
  type HttpLoad,
  type LoadResult,
  type LoadTool,
  runAutocannon,
  runWrk,
} from "./lib/http-load.ts";
import { describeMachine, steadCommit } from "./lib/machine.ts";
import { type ScrapeStats, scrapeEvery } from "./lib/metrics-scraper.ts";
import {
  closePostgres,
  DEFAULT_POSTGRES_URL,
  describePostgres,
  type PostgresSnapshot,
  type PostgresWindow,
  removeStaleSchemas,
} from "./lib/postgres.ts";
import {
  type Confinement,
  cpuSeconds,
  installCleanupHandlers,
  machineCpuSeconds,
  makeTempDir,
  peakRss,
  removeStaleTempDirs,
  removeTempDir,
  which,
} from "./lib/processes.ts";
import {
  formatProfileSummary,
  monotonicUs,
  summarizeProfile,
  type TimeWindow,
} from "./lib/profile-summary.ts";
import {
  appendResults,
  DISTURBED,
  formatTable,
  type Measurement,
  type RunReport,
  type WorkloadInfo,
  writeJson,
} from "./lib/report.ts";
import {
  DEFAULT_RUNTIMES,
  RUNTIME_LABELS,
  RUNTIMES,
  type RunningServer,
  type RuntimeName,
  servesWorkload,
  startServer,
} from "./lib/servers.ts";
import { loadBenchApp } from "./lib/workerd-config.ts";
import { runFanout } from "./lib/ws-fanout.ts";

const BENCH = fileURLToPath(new URL(".", import.meta.url));
/** The admin token of servers scraped with `--scrape-metrics`. */
const ADMIN_TOKEN = randomBytes(24).toString("base64url");

const HELP = `Usage: npm run bench [-- options]

Runs the benchmark app (bench/app) on Stead and on workerd, one server at a time, and compares,
beside node:http: a raw node:http server answering each URL with a fixed body of the same size
(bench/node/hello-server.ts; not for w5), the ceiling of Node's HTTP on the server's core.
With --storage postgres, also on Stead+PG: Stead with its objects stored in PostgreSQL.

Options:
  --quick                 short runs (0.5 s warm-up, 2 s per workload, 300 cold objects): < 1 min
  --only <w1,w2,...>      run only these workloads (w1..w8)
  --runtimes <list>       from stead, stead-pg (Stead+PG), workerd and node (node:http)
                          (default stead,workerd,node)
  --storage <postgres>    "postgres" (${DEFAULT_POSTGRES_URL}) or a postgres:// URL:
                          Stead+PG stores in a fresh schema there per server (--threads 0), and
                          its PostgreSQL WAL bytes per write are reported. Means --runtimes
                          stead,stead-pg,workerd and --only w1,w2,w3,w6 unless they are given
  --loadgen <tool>        auto (wrk when on PATH, else autocannon), autocannon or wrk (w1-w4, w7, w8)
  --seconds <n>           measured seconds per workload (default 10; quick 2)
  --warmup <n>            warm-up seconds per workload (default 2; quick 0.5)
  --connections <n>       HTTP connections (default 32)
  --cold-objects <n>      new objects in w6 (default 10000; quick 300)
  --cpu-prof              profile the Stead server (node --cpu-prof) and print where its time
                          went; profiles land in bench/.profiles/. Implies --runtimes stead
                          (with --storage: stead-pg) unless given, and --no-record
  --no-pin                do not pin the server to CPU 0 and the load generator to CPU 1
  --no-record             print only: no bench/results/*.json, no RESULTS.md entry
  --scrape-metrics        start Stead with its admin listener (--admin-port) and scrape its
                          /metrics every second during each measured window, as Prometheus
                          would (compare with a run without it for the cost of metrics)
  --cluster               instead: three cluster nodes and PostgreSQL on this machine against
                          one Stead+PG node (w1, w2), failover time after kill -9 (20 trials;
                          quick 5), and a rolling restart under load (takes --quick, --storage,
                          --connections, --seconds)
  -h, --help              this text
`;

interface Workload extends WorkloadInfo {
  kind: "http" | "fanout" | "cold";
  unit: string;
  http?: {
    path: () => string;
    luaPath: string;
    /** Paths requested once each before the warm-up, so the measurement finds them in use. */
    prime?: () => string[];
    /** A path POSTed once before everything else, to make what the workload needs (a table). */
    setup?: string;
  };
}

const WORKLOADS: Workload[] = [
  {
    id: "w1",
    title: "hot object, KV increment via RPC",
    kind: "http",
    unit: "req/s",
    http: { path: () => "/w1", luaPath: `"/w1"` },
  },
  {
    id: "w2",
    title: "KV increment over 1,000 objects",
    kind: "http",
    unit: "req/s",
    http: {
      path: () => `/w2/${Math.floor(Math.random() * 1000)}`,
      luaPath: `"/w2/" .. math.random(0, 999)`,
      prime: () => Array.from({ length: 1000 }, (_, i) => `/w2/${i}`),
    },
  },
  {
    id: "w3",
    title: "SQL insert + last 10 rows",
    kind: "http",
    unit: "req/s",
    http: { path: () => "/w3", luaPath: `"/w3"` },
  },
  {
    id: "w4",
    title: "stub.fetch pass-through",
    kind: "http",
    unit: "req/s",
    http: { path: () => "/w4", luaPath: `"/w4"` },
  },
  { id: "w5", title: "WebSocket fan-out, 100 clients", kind: "fanout", unit: "msg/s" },
  { id: "w6", title: "cold start, new objects", kind: "cold", unit: "obj/s" },
  {
    id: "w7",
    title: "static asset, 4 KB JS file",
    kind: "http",
    unit: "req/s",
    http: { path: () => "/static/app.js", luaPath: `"/static/app.js"` },
  },
  {
    id: "w8",
    title: "D1 insert, prepare().bind().run()",
    kind: "http",
    unit: "req/s",
    http: { path: () => "/w8", luaPath: `"/w8"`, setup: "/w8/setup" },
  },
];

interface Settings {
  mode: "quick" | "full";
  seconds: number;
  warmupSeconds: number;
  connections: number;
  coldObjects: number;
  wsClients: number;
  wsSenders: number;
  loadTool: LoadTool;
  runtimes: RuntimeName[];
  workloads: Workload[];
  cpuProf: boolean;
  record: boolean;
  /** Where Stead+PG stores (no schema), when it runs. */
  postgresUrl: string | undefined;
  confinement: Confinement;
  pinning: string;
  /** Scrape Stead's `/metrics` every second during measured windows. */
  scrapeMetrics: boolean;
}

function parseSettings(): Settings {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      runtimes: { type: "string" },
      storage: { type: "string" },
      loadgen: { type: "string", default: "auto" },
      seconds: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      "cold-objects": { type: "string" },
      "cpu-prof": { type: "boolean", default: false },
      "no-pin": { type: "boolean", default: false },
      "no-record": { type: "boolean", default: false },
      "scrape-metrics": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick;
  const number = (raw: string | undefined, fallback: number, name: string) => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!(value > 0)) throw new Error(`--${name} must be a positive number, got "${raw}"`);
    return value;
  };
  const storage = values.storage;
  if (storage !== undefined && storage !== "postgres" && !/^postgres(ql)?:\/\//.test(storage)) {
    throw new Error(`--storage takes "postgres" or a postgres:// URL, got "${storage}"`);
  }
  const only = (values.only ?? (storage === undefined ? undefined : "w1,w2,w3,w6"))
    ?.split(",")
    .map((s) => s.trim());
  const workloads = only ? WORKLOADS.filter((w) => only.includes(w.id)) : WORKLOADS;
  if (only && workloads.length !== only.length) {
    throw new Error(`--only takes workload ids from ${WORKLOADS.map((w) => w.id).join(",")}`);
  }
  const defaultRuntimes = values["cpu-prof"]
    ? [storage === undefined ? "stead" : "stead-pg"]
    : storage === undefined
      ? DEFAULT_RUNTIMES
      : ["stead", "stead-pg", "workerd"];
  const runtimes = (values.runtimes?.split(",").map((r) => r.trim()) ?? defaultRuntimes).map(
    (r) => {
      if (!RUNTIMES.includes(r as RuntimeName)) {
        throw new Error(`unknown runtime "${r}": use ${RUNTIMES.join(", ")}`);
      }
      return r as RuntimeName;
    },
  );
  const postgresUrl = runtimes.includes("stead-pg")
    ? storage === undefined || storage === "postgres"
      ? DEFAULT_POSTGRES_URL
      : storage
    : undefined;
  const wrk = which("wrk") !== undefined;
  let loadTool: LoadTool;
  if (values.loadgen === "auto") loadTool = wrk ? "wrk" : "autocannon";
  else if (values.loadgen === "autocannon") loadTool = "autocannon";
  else if (values.loadgen === "wrk") {
    if (!wrk) throw new Error("--loadgen wrk: wrk is not on PATH (apt-get install wrk)");
    loadTool = "wrk";
  } else throw new Error(`--loadgen must be auto, autocannon or wrk`);
  const connections = number(values.connections, 32, "connections");
  const coldObjects = number(values["cold-objects"], quick ? 300 : 10_000, "cold-objects");
  if (coldObjects < connections) throw new Error("--cold-objects must be at least --connections");
  // Two cores: the server gets CPU 0, this process (load generators included) CPU 1.
  const canPin = !values["no-pin"] && which("taskset") !== undefined && availableParallelism() >= 2;
  return {
    mode: quick ? "quick" : "full",
    seconds: number(values.seconds, quick ? 2 : 10, "seconds"),
    warmupSeconds: number(values.warmup, quick ? 0.5 : 2, "warmup"),
    connections,
    coldObjects,
    wsClients: 100,
    wsSenders: 32,
    loadTool,
    runtimes,
    workloads,
    cpuProf: values["cpu-prof"],
    record: !values["no-record"] && !values["cpu-prof"],
    postgresUrl,
    confinement: { cpus: canPin ? "0" : undefined },
    pinning: canPin
      ? "Server pinned to CPU 0, load generator (this process and its children) to CPU 1"
      : "No CPU pinning: server and load generator share all cores",
    scrapeMetrics: values["scrape-metrics"],
  };
}

/** Pins this process (all its threads, and so the children it starts later) to CPU 1. */
function pinSelf(settings: Settings): void {
  if (settings.confinement.cpus === undefined) return;
  execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
}

/** CPU seconds of the load generator: this process plus its waited-for children (wrk). */
function loadCpuSeconds(): number {
  return cpuSeconds("self", true) ?? 0;
}

/** Measures one workload on one running server; sets `measuredWindow` to the measured span. */
async function measure(
  workload: Workload,
  server: RunningServer,
  settings: Settings,
  scratch: string,
  measuredWindow: TimeWindow,
): Promise<Measurement> {
  const base = { workload: workload.id, runtime: server.runtime, unit: workload.unit };
  const window = { server: 0, load: 0, wall: 0, machine: { busy: 0, steal: 0 } };
  // Stead+PG: PostgreSQL read at the window's edges (queries from this process, started there).
  const probe = server.postgres;
  let pgBefore: Promise<PostgresSnapshot> | undefined;
  let pgWindow: Promise<PostgresWindow> | undefined;
  let wallSeconds = 0;
  let scraper: ReturnType<typeof scrapeEvery> | undefined;
  const openWindow = () => {
    if (server.adminUrl !== undefined) scraper = scrapeEvery(server.adminUrl, ADMIN_TOKEN, 1000);
    if (probe !== undefined) {
      pgBefore = probe.snapshot();
      pgBefore.catch(() => {}); // awaited through pgWindow
    }
    window.server = cpuSeconds(server.pid) ?? 0;
    window.load = loadCpuSeconds();
    window.machine = machineCpuSeconds();
    window.wall = performance.now();
    measuredWindow.startUs = monotonicUs();
  };
  const closeWindow = () => {
    const wall = (performance.now() - window.wall) / 1000;
    scraping = scraper?.stop();
    measuredWindow.endUs = monotonicUs();
    if (probe !== undefined && pgBefore !== undefined) {
      pgWindow = pgBefore.then((before) => probe.since(before));
      pgWindow.catch(() => {}); // awaited in withPostgres
    }
    wallSeconds = wall;
    const serverCpu = ((cpuSeconds(server.pid) ?? 0) - window.server) / wall;
    const loadCpu = (loadCpuSeconds() - window.load) / wall;
    const machine = machineCpuSeconds();
    return {
      serverCpu,
      loadCpu,
      // Everything else that ran meanwhile (other processes, kernel work such as loopback
      // softirqs), and what the hypervisor took: high values mean a disturbed measurement.
      otherCpu: (machine.busy - window.machine.busy) / wall - serverCpu - loadCpu,
      stealCpu: (machine.steal - window.machine.steal) / wall,
    };
  };
  let scraping: Promise<ScrapeStats> | undefined;
  const capMs = (seconds: number) => seconds * 1000 + 30_000;
  /** Adds what PostgreSQL did in the window; its backends' CPU is not "other" then. */
  const withPostgres = async (measured: Measurement): Promise<Measurement> => {
    const scraped = await scraping;
    const m =
      scraped === undefined
        ? measured
        : {
            ...measured,
            extra: {
              ...measured.extra,
              scrapes: scraped.scrapes,
              scrapesFailed: scraped.failed,
              scrapeMaxMs: scraped.maxMs,
              scrapeBytes: scraped.bytes,
            },
            ...(scraped.lastError === undefined
              ? {}
              : { serverErrors: [`/metrics: ${scraped.lastError}`] }),
          };
    if (pgWindow === undefined) return m;
    const pg = await pgWindow;
    const postgresCpu =
      pg.backendCpuSeconds === undefined ? undefined : pg.backendCpuSeconds / wallSeconds;
    return {
      ...m,
      ...(postgresCpu === undefined ? {} : { postgresCpu }),
      walBytes: pg.walBytes,
      ...(pg.schemaWalBytes === undefined ? {} : { schemaWalBytes: pg.schemaWalBytes }),
      logRows: pg.logRows,
      ...(m.otherCpu === undefined || postgresCpu === undefined
        ? {}
        : { otherCpu: m.otherCpu - postgresCpu }),
    };
  };

  if (workload.kind === "fanout") {
    let cpu: ReturnType<typeof closeWindow> | undefined;
    const result = await runFanout({
      url: `${server.url.replace("http:", "ws:")}/w5`,
      clients: settings.wsClients,
      senders: settings.wsSenders,
      warmupSeconds: settings.warmupSeconds,
      seconds: settings.seconds,
      capMs: 30_000,
      onWindowStart: openWindow,
      onWindowEnd: () => {
        cpu = closeWindow();
      },
    });
    return withPostgres({
      ...base,
      tool: "ws",
      perSecond: result.perSecond,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      ok: result.delivered,
      failed: result.lost,
      seconds: result.seconds,
      ...cpu,
      extra: { sent: result.sent, lost: result.lost },
    });
  }

  const http = (load: HttpLoad): Promise<LoadResult> =>
    settings.loadTool === "wrk" && load.amount === undefined
      ? runWrk(load, scratch)
      : runAutocannon(load);

  if (workload.kind === "cold") {
    // Warm the code paths on other new objects first, then time the first request to each of
    // `coldObjects` objects nobody has touched.
    let n = 0;
    const warmup = Math.max(
      settings.connections,
      Math.min(500, Math.ceil(settings.coldObjects / 10)),
    );
    await runAutocannon({
      url: server.url,
      connections: settings.connections,
      path: () => `/w6/warm-${n++}`,
      luaPath: "",
      amount: warmup,
      capMs: capMs(60),
    });
    let i = 0;
    openWindow();
    const result = await runAutocannon({
      url: server.url,
      connections: settings.connections,
      path: () => `/w6/${i++}`,
      luaPath: "",
      amount: settings.coldObjects,
      capMs: capMs(120),
    });
    return withPostgres({ ...base, ...toMeasurement(result), ...closeWindow() });
  }

  const load = {
    url: server.url,
    connections: settings.connections,
    path: workload.http!.path,
    luaPath: workload.http!.luaPath,
  };
  const setup = workload.http!.setup;
  if (setup !== undefined) {
    const response = await fetch(`${server.url}${setup}`, {
      method: "POST",
      signal: AbortSignal.timeout(30_000),
    });
    const body = await response.text();
    if (!response.ok) {
      const log = (await serverErrorsOfFailure(server.logFile)).map((l) => `\nserver log: ${l}`);
      throw new Error(
        `POST ${setup} answered ${response.status}: ${body.slice(0, 400)}${log.join("")}`,
      );
    }
  }
  const prime = workload.http!.prime?.();
  if (prime !== undefined) {
    let next = 0;
    await runAutocannon({
      ...load,
      path: () => prime[next++ % prime.length]!,
      amount: prime.length,
      capMs: capMs(60),
    });
  }
  // Warm-up results are discarded; autocannon takes fractional seconds (wrk whole ones only).
  await runAutocannon({
    ...load,
    seconds: settings.warmupSeconds,
    capMs: capMs(settings.warmupSeconds),
  });
  openWindow();
  const result = await http({ ...load, seconds: settings.seconds, capMs: capMs(settings.seconds) });
  return withPostgres({ ...base, ...toMeasurement(result), ...closeWindow() });
}

function toMeasurement(result: LoadResult) {
  return {
    tool: result.tool,
    perSecond: result.perSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    ok: result.ok,
    failed: result.failed,
    seconds: result.seconds,
    ...(result.failed > 0 ? { failures: result.failures } : {}),
  };
}

/** Up to five distinct error lines from a server's log (request lines with a 5xx included). */
function serverErrors(logFile: string): string[] {
  const distinct = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(logFile, "utf8");
  } catch {
    return [];
  }
  for (const line of text.split("\n")) {
    if (distinct.size >= 5) break;
    if (line === "" || !/error|fail|exception/i.test(line)) continue;
    // Same message with another time stamp, duration or path: one entry.
    const key = line.replace(/"(time|durationMs|path)":("[^"]*"|[\d.]+),?/g, "");
    if (!distinct.has(key)) distinct.set(key, line.slice(0, 400));
  }
  return [...distinct.values()];
}

/** `serverErrors` right after a failed request: its log line may take a moment to be written. */
async function serverErrorsOfFailure(logFile: string): Promise<string[]> {
  const deadline = performance.now() + 1000;
  for (;;) {
    const lines = serverErrors(logFile);
    if (lines.length > 0 || performance.now() > deadline) return lines;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function progressLine(m: Measurement): string {
  if (m.error !== undefined) {
    return `  ${m.workload} ${RUNTIME_LABELS[m.runtime].padEnd(8)} FAILED: ${m.error.split("\n").slice(0, 12).join("\n    ")}`;
  }
  const f = (v: number | undefined, digits = 1) => (v === undefined ? "-" : v.toFixed(digits));
  return (
    `  ${m.workload} ${RUNTIME_LABELS[m.runtime].padEnd(8)} ${Math.round(m.perSecond ?? 0)
      .toLocaleString("en-US")
      .padStart(8)} ${m.unit}` +
    `  p50 ${f(m.p50Ms, 2)} ms  p99 ${f(m.p99Ms, 2)} ms` +
    `  peak RSS ${f((m.peakRssBytes ?? 0) / 2 ** 20, 0)} MB` +
    `  CPU server ${f((m.serverCpu ?? 0) * 100, 0)}% load ${f((m.loadCpu ?? 0) * 100, 0)}%` +
    (m.postgresCpu === undefined ? "" : ` PG backends ${f(m.postgresCpu * 100, 0)}%`) +
    ` other ${f((m.otherCpu ?? 0) * 100, 0)}% steal ${f((m.stealCpu ?? 0) * 100, 0)}%` +
    (m.walBytes === undefined
      ? ""
      : `  WAL ${f(m.walBytes / 1e6)} MB` +
        (m.schemaWalBytes === undefined ? "" : ` (schema's ${f(m.schemaWalBytes / 1e6, 2)} MB)`) +
        `, ${m.logRows} log rows` +
        (m.logRows && m.ok
          ? ` (${Math.round(m.walBytes / m.ok)} B/write` +
            (m.schemaWalBytes === undefined
              ? ")"
              : `, schema's ${Math.round(m.schemaWalBytes / m.ok)} B/write)`)
          : "")) +
    ((m.otherCpu ?? 0) + (m.stealCpu ?? 0) > DISTURBED ? " (DISTURBED)" : "") +
    (m.failed ? `  (${m.failed} failed: ${JSON.stringify(m.failures ?? {})})` : "") +
    (m.serverErrors ?? []).map((line) => `\n    server log: ${line}`).join("")
  );
}

async function main(): Promise<void> {
  const settings = parseSettings();
  installCleanupHandlers();
  removeStaleTempDirs();
  pinSelf(settings);
  const started = Date.now();
  // A safety net: nothing below should take this long.
  const budgetMs = settings.mode === "quick" ? 180_000 : 1_200_000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${budgetMs / 1000} s; giving up\n`);
    process.exit(1);
  }, budgetMs);
  watchdog.unref();

  const postgres =
    settings.postgresUrl === undefined ? undefined : await describePostgres(settings.postgresUrl);
  if (settings.postgresUrl !== undefined) {
    const stale = await removeStaleSchemas(settings.postgresUrl);
    if (stale.length > 0) {
      process.stdout.write(`Dropped schemas left by killed runs: ${stale.join(", ")}\n`);
    }
  }
  const app = loadBenchApp(join(BENCH, "app"));
  const scratch = makeTempDir("run");
  const machine = describeMachine(scratch);
  const profileRoot = join(BENCH, ".profiles", new Date().toISOString().replace(/:/g, "-"));
  process.stdout.write(
    `bench (${settings.mode}): ${settings.workloads.map((w) => w.id).join(",")} on ${settings.runtimes.map((r) => RUNTIME_LABELS[r]).join(", ")}; ` +
      `HTTP load: ${settings.loadTool}, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s. ` +
      `${settings.pinning}.` +
      (settings.scrapeMetrics ? " Stead's /metrics scraped every second while measuring." : "") +
      "\n" +
      (postgres === undefined
        ? ""
        : `Stead+PG: PostgreSQL ${postgres.version} at ${postgres.url}, a fresh schema per server; fsync=${postgres.fsync}, synchronous_commit=${postgres.synchronousCommit}. Its backends are not pinned.\n`),
  );

  const measurements: Measurement[] = [];
  for (const workload of settings.workloads) {
    for (const runtime of settings.runtimes) {
      if (!servesWorkload(runtime, workload.kind)) continue;
      const stead = runtime === "stead" || runtime === "stead-pg";
      const profileDir =
        settings.cpuProf && stead
          ? join(profileRoot, runtime === "stead" ? workload.id : `${workload.id}-${runtime}`)
          : undefined;
      let measurement: Measurement;
      let server: RunningServer | undefined;
      const began = performance.now();
      const measuredWindow: TimeWindow = { startUs: 0, endUs: 0 };
      try {
        server = await startServer(runtime, {
          app,
          confinement: settings.confinement,
          cpuProfileDir: profileDir,
          readyTimeoutMs: 30_000,
          ...(settings.postgresUrl === undefined ? {} : { postgresUrl: settings.postgresUrl }),
          ...(settings.scrapeMetrics && stead ? { adminToken: ADMIN_TOKEN } : {}),
        });
        measurement = await measure(workload, server, settings, scratch, measuredWindow);
        measurement.peakRssBytes = peakRss(server.pid);
        if (measurement.failed) measurement.serverErrors = serverErrors(server.logFile);
      } catch (error) {
        measurement = {
          workload: workload.id,
          runtime,
          unit: workload.unit,
          tool: "-",
          error: (error as Error).message,
        };
      } finally {
        await server?.stop();
      }
      measurements.push(measurement);
      const took = ((performance.now() - began) / 1000).toFixed(1);
      process.stdout.write(`${progressLine(measurement)}  [${took} s]\n`);
      if (measurement.extra?.scrapes !== undefined) {
        const { scrapes, scrapesFailed, scrapeMaxMs, scrapeBytes } = measurement.extra;
        process.stdout.write(
          `    /metrics scraped ${scrapes} times (${scrapesFailed} failed${scrapesFailed === 0 ? "" : `: ${measurement.serverErrors?.at(-1)}`}), slowest ${scrapeMaxMs!.toFixed(1)} ms, ${scrapeBytes} bytes\n`,
        );
      }
      if (profileDir !== undefined && existsSync(profileDir)) {
        // bench/profile.ts reads this to summarize the measured window only.
        writeFileSync(join(profileDir, "window.json"), `${JSON.stringify(measuredWindow)}\n`);
        for (const file of readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"))) {
          const path = join(profileDir, file);
          process.stdout.write(
            `\nCPU profile of ${RUNTIME_LABELS[runtime]} on ${workload.id}, measured window only: ${path}\n${formatProfileSummary(summarizeProfile(path, measuredWindow), 15)}\n\n`,
          );
        }
      }
    }
  }

  const commitAtEnd = steadCommit();
  if (commitAtEnd !== machine.steadCommit) {
    machine.steadCommit = `${machine.steadCommit}, then ${commitAtEnd} (src/ changed during the run)`;
    process.stderr.write(`bench: Stead's sources changed during the run: ${machine.steadCommit}\n`);
  }
  const report: RunReport = {
    date: new Date(started).toISOString(),
    mode: settings.mode,
    settings: {
      seconds: settings.seconds,
      warmupSeconds: settings.warmupSeconds,
      connections: settings.connections,
      coldObjects: settings.coldObjects,
      wsClients: settings.wsClients,
      wsSenders: settings.wsSenders,
      loadTool: settings.loadTool,
      pinning: settings.pinning,
      ...(postgres === undefined ? {} : { postgres }),
    },
    machine,
    workloads: settings.workloads.map(({ id, title }) => ({ id, title })),
    measurements,
  };
  process.stdout.write(`\n${formatTable(report)}\n`);
  if (settings.record) {
    const json = writeJson(report, join(BENCH, "results"));
    const relative = json.slice(fileURLToPath(new URL("..", import.meta.url)).length);
    appendResults(report, join(BENCH, "RESULTS.md"), relative);
    process.stdout.write(`\nWrote ${relative} and appended an entry to bench/RESULTS.md\n`);
  }
  removeTempDir(scratch);
  process.stdout.write(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  clearTimeout(watchdog);
  if (measurements.some((m) => m.error !== undefined)) process.exitCode = 1;
}

/** `--cluster`: the cluster bench (bench/cluster.ts) instead of the workloads. */
async function clusterMain(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cluster: { type: "boolean" },
      quick: { type: "boolean", default: false },
      storage: { type: "string" },
      connections: { type: "string" },
      seconds: { type: "string" },
    },
    strict: true,
  });
  installCleanupHandlers();
  removeStaleTempDirs();
  const storage = values.storage;
  await runClusterBench({
    quick: values.quick,
    postgresUrl: storage === undefined || storage === "postgres" ? undefined : storage,
    connections: Number(values.connections ?? 32),
    seconds: Number(values.seconds ?? (values.quick ? 2 : 10)),
  });
}

(process.argv.includes("--cluster") ? clusterMain() : main())
  .catch((error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  })
  // Its open connection would keep the process alive.
  .finally(() => closePostgres());
