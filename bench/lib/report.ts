// The table printed at the end of a run, the JSON results file and the RESULTS.md entry.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Machine } from "./machine.ts";
import type { PostgresInfo } from "./postgres.ts";
import { RUNTIME_LABELS, RUNTIMES, type RuntimeName } from "./servers.ts";

/** One workload on one runtime. */
export interface Measurement {
  workload: string;
  runtime: RuntimeName;
  /** What `perSecond` counts: "req/s", "msg/s" (deliveries) or "obj/s". */
  unit: string;
  tool: string;
  perSecond?: number;
  p50Ms?: number;
  p99Ms?: number;
  ok?: number;
  failed?: number;
  seconds?: number;
  /** Peak resident set size of the server process over its whole life (VmHWM). */
  peakRssBytes?: number;
  /** CPU time of the server during the measured window, as a fraction of one core. */
  serverCpu?: number;
  /** CPU time of the load generator (this process and its children), likewise. */
  loadCpu?: number;
  /** Busy CPU time of everything else on the machine (all cores), likewise. */
  otherCpu?: number;
  /** CPU time the hypervisor took from this VM (all cores), likewise. */
  stealCpu?: number;
  /** Stead+PG: CPU time of the server's PostgreSQL backends, likewise (not in `otherCpu`). */
  postgresCpu?: number;
  /** Stead+PG: WAL bytes PostgreSQL wrote during the window (the whole cluster's). */
  walBytes?: number;
  /** Stead+PG: the part of `walBytes` that was the schema's own (pg_waldump), when read. */
  schemaWalBytes?: number;
  /** Stead+PG: log rows the server appended during the window. */
  logRows?: number;
  extra?: Record<string, number>;
  /** Failed requests by kind, when any failed. */
  failures?: Record<string, number>;
  /** A few distinct error lines from the server's log, when requests failed. */
  serverErrors?: string[];
  error?: string;
}

export interface WorkloadInfo {
  id: string;
  title: string;
}

export interface RunReport {
  date: string;
  mode: "quick" | "full";
  settings: Record<string, unknown>;
  machine: Machine;
  workloads: WorkloadInfo[];
  measurements: Measurement[];
}

const LETTERS: Record<RuntimeName, string> = {
  stead: "S",
  "stead-pg": "P",
  workerd: "W",
  node: "N",
};

/** Headings and cells of the table; the first two columns are left-aligned. */
interface Table {
  headings: string[];
  rows: string[][];
}

/**
 * One row per workload. Rates, ratios of Stead's runtimes to workerd and to node:http (the raw
 * `node:http` server, the ceiling), then "S | P | W | N" groups (Stead, Stead+PG, workerd,
 * node:http; only the runtimes that ran). With Stead+PG, also its PostgreSQL backends' CPU and
 * the WAL bytes per acknowledged write. Without those, the columns of earlier entries.
 */
function table(report: RunReport): Table {
  const present = RUNTIMES.filter((r) => report.measurements.some((m) => m.runtime === r));
  const others = present.filter((r) => r === "stead" || r === "stead-pg");
  const hasWorkerd = present.includes("workerd");
  const hasNode = present.includes("node");
  const hasPg = present.includes("stead-pg");
  const letters = present.map((r) => LETTERS[r]).join(" | ");
  const headings = [
    "Workload",
    "unit",
    ...present.map((r) => RUNTIME_LABELS[r]),
    ...(hasWorkerd ? others.map((r) => `${RUNTIME_LABELS[r]}/workerd`) : []),
    ...(hasNode ? others.map((r) => `${RUNTIME_LABELS[r]}/node:http`) : []),
    `p50 ms ${letters}`,
    `p99 ms ${letters}`,
    ...(hasWorkerd && present.includes("stead") ? ["p99 S/W"] : []),
    `peak RSS MB ${letters}`,
    `server CPU ${letters}`,
    ...(hasPg ? ["PG CPU", "PG WAL B/write all | schema"] : []),
  ];
  const rows = report.workloads.map((workload) => {
    const find = (runtime: RuntimeName) =>
      report.measurements.find((m) => m.workload === workload.id && m.runtime === runtime);
    const found = present.map(find);
    const w = find("workerd");
    const group = (value: (m: Measurement) => string) =>
      found.map((m) => (m ? value(m) : "-")).join(" | ");
    const pg = find("stead-pg");
    return [
      `${workload.id} ${workload.title}`,
      found.find((m) => m !== undefined)?.unit ?? "",
      ...found.map(rate),
      ...(hasWorkerd ? others.map((r) => ratio(find(r)?.perSecond, w?.perSecond)) : []),
      ...(hasNode ? others.map((r) => ratio(find(r)?.perSecond, find("node")?.perSecond)) : []),
      group((m) => ms(m.p50Ms)),
      group((m) => ms(m.p99Ms)),
      ...(hasWorkerd && present.includes("stead") ? [ratio(find("stead")?.p99Ms, w?.p99Ms)] : []),
      group((m) => (m.peakRssBytes === undefined ? "-" : (m.peakRssBytes / 2 ** 20).toFixed(0))),
      group((m) => percent(m.serverCpu)),
      ...(hasPg ? [percent(pg?.postgresCpu), walPerWrite(pg)] : []),
    ];
  });
  return { headings, rows };
}

function percent(share: number | undefined): string {
  return share === undefined ? "-" : `${Math.round(share * 100)}%`;
}

/** WAL bytes per acknowledged write: the cluster's, and the schema's own. */
function walPerWrite(m: Measurement | undefined): string {
  if (m?.walBytes === undefined || !m.logRows || !m.ok) return "-";
  const ok = m.ok;
  const per = (bytes: number | undefined) =>
    bytes === undefined ? "-" : Math.round(bytes / ok).toLocaleString("en-US");
  return `${per(m.walBytes)} | ${per(m.schemaWalBytes)}`;
}

function rate(m: Measurement | undefined): string {
  if (m === undefined) return "-";
  if (m.error !== undefined) return "failed";
  if (m.perSecond === undefined) return "-";
  const value = Math.round(m.perSecond).toLocaleString("en-US");
  return m.failed ? `${value} (${m.failed} failed)` : value;
}

function ms(value: number | undefined): string {
  if (value === undefined) return "-";
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return "-";
  return `${(a / b).toFixed(2)}x`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Lines under the table when Stead+PG ran: what its columns mean, and its WAL per workload. */
export function postgresNotes(report: RunReport): string[] {
  const pg = report.measurements.filter((m) => m.runtime === "stead-pg");
  if (pg.length === 0) return [];
  const info = report.settings.postgres as PostgresInfo | undefined;
  const lines = [
    `Stead+PG (P): \`stead start --storage ${info?.url ?? "postgres://..."}?schema=bench_<random> --threads 0\`, a fresh schema per workload` +
      (info === undefined
        ? "."
        : `; PostgreSQL ${info.version}, fsync=${info.fsync}, synchronous_commit=${info.synchronousCommit}, full_page_writes=${info.fullPageWrites}, wal_compression=${info.walCompression}.`),
    "Server CPU is the Stead process's; PG CPU is that of the PostgreSQL backends serving it (not pinned: they run on either core, the load generator's too).",
    "PG WAL B/write, all: pg_wal_lsn_diff of pg_current_wal_lsn() read by the harness around the measured window, over the acknowledged (2xx) requests, each of which wrote. " +
      "That is the whole cluster's WAL: other activity on the same PostgreSQL (other sessions, other databases, checkpoints) adds to it. " +
      `Schema: only the WAL records on the schema's tables, indexes and TOAST, and the rest of the transactions that wrote them (commit records), summed from the same LSN range with ${info?.walAttribution ?? "pg_waldump"}.`,
  ];
  for (const m of pg) {
    if (m.walBytes === undefined) continue;
    const rows = m.logRows ?? 0;
    const own = m.schemaWalBytes;
    const bytes = (n: number) => Math.round(n).toLocaleString("en-US");
    lines.push(
      `${m.workload}: ${megabytes(m.walBytes)} of WAL in ${(m.seconds ?? 0).toFixed(1)} s` +
        (own === undefined ? "" : `, ${megabytes(own)} of it the schema's`) +
        "; " +
        (rows > 0 && m.ok
          ? `${m.ok.toLocaleString("en-US")} acknowledged writes in ${rows.toLocaleString("en-US")} log rows` +
            (m.ok > rows * 1.05 ? " (concurrent commits to one object share a row)" : "") +
            ": " +
            `per write ${bytes(m.walBytes / m.ok)} B${own === undefined ? "" : ` (schema's ${bytes(own / m.ok)} B)`}, ` +
            `per log row ${bytes(m.walBytes / rows)} B${own === undefined ? "" : ` (schema's ${bytes(own / rows)} B)`}.`
          : "no log rows appended (nothing written)."),
    );
  }
  return lines;
}

/** A line under the table when node:http ran: what it is. */
function nodeNotes(report: RunReport): string[] {
  if (!report.measurements.some((m) => m.runtime === "node")) return [];
  return [
    "node:http (N): a raw `node:http` server (`bench/node/hello-server.ts`, pinned as the others) answering each URL with a fixed body of the size Stead's answer has, no storage and no objects: the ceiling of Node's HTTP on this core. Not run for w5 (WebSocket).",
  ];
}

/** Lines under the table: node:http's and Stead+PG's notes. */
function notesOf(report: RunReport): string[] {
  return [...nodeNotes(report), ...postgresNotes(report)];
}

/** The results as an aligned plain-text table (with the notes under it). */
export function formatTable(report: RunReport): string {
  const { headings, rows } = table(report);
  const all = [headings, ...rows];
  const widths = headings.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  const notes = notesOf(report);
  return [
    line(headings),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(line),
    ...(notes.length > 0 ? ["", ...notes.map((n) => `- ${n}`)] : []),
  ].join("\n");
}

function markdownTable(report: RunReport): string {
  const { headings, rows } = table(report);
  // Markdown cells cannot hold "|": groups read "Stead / workerd" there.
  const line = (row: string[]) =>
    `| ${row.map((cell) => cell.replaceAll(" | ", " / ")).join(" | ")} |`;
  return [
    line(headings),
    `|${headings.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}

/** CPU used by others during a measurement (share of one core) above which it is flagged. */
export const DISTURBED = 0.2;

/** Writes `<dir>/<date>[-quick].json`; returns its path. */
export function writeJson(report: RunReport, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const stamp = report.date.replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
  const path = join(dir, `${stamp}${report.mode === "quick" ? "-quick" : ""}.json`);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

/** Appends a dated entry with the machine description and the table to RESULTS.md. */
export function appendResults(report: RunReport, file: string, jsonPath: string): void {
  const m = report.machine;
  const s = report.settings;
  const date = `${report.date.slice(0, 10)} ${report.date.slice(11, 16)} UTC`;
  const failures = report.measurements
    .filter((x) => x.error !== undefined)
    .map((x) => `- ${x.workload} on ${x.runtime} failed: ${x.error!.split("\n")[0]}`);
  for (const x of report.measurements) {
    if (x.failed) {
      failures.push(
        `- ${x.workload} on ${x.runtime}: ${x.failed} requests failed ${JSON.stringify(x.failures ?? {})}`,
      );
    }
    const other = (x.otherCpu ?? 0) + (x.stealCpu ?? 0);
    if (other > DISTURBED) {
      failures.push(
        `- ${x.workload} on ${x.runtime} may be disturbed: other processes and the hypervisor took ${Math.round(other * 100)}% of a core meanwhile`,
      );
    }
  }
  const notes = notesOf(report);
  const entry = [
    "",
    `## ${date} — ${report.mode === "quick" ? "quick run (--quick)" : "full run"}`,
    "",
    `- Machine: ${m.cores} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.kernel}, temp dirs on ${m.filesystem}.`,
    `- Node ${m.node}; workerd ${m.workerd}; Stead ${m.steadCommit}.`,
    `- ${s.connections} connections (HTTP, ${s.loadTool}), ${s.warmupSeconds} s warm-up + ${s.seconds} s per workload; ` +
      `w5: ${s.wsClients} clients, ${s.wsSenders} senders with one message in flight each; ` +
      `w6: ${Number(s.coldObjects).toLocaleString("en-US")} new objects. ${s.pinning}.`,
    "",
    markdownTable(report),
    "",
    ...notes.map((n) => `- ${n}`),
    ...(notes.length > 0 ? [""] : []),
    ...(failures.length > 0 ? [...failures, ""] : []),
    `Raw results: \`${jsonPath}\`.`,
    "",
  ].join("\n");
  appendFileSync(file, entry);
}
