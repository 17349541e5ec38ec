// The table printed at the end of a run, the JSON results file and the RESULTS.md entry.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Machine } from "./machine.ts";
import type { RuntimeName } from "./servers.ts";

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

interface Row {
  title: string;
  unit: string;
  stead: string;
  workerd: string;
  ratio: string;
  p50: string;
  p99: string;
  p99Ratio: string;
  rss: string;
  cpu: string;
}

const HEADINGS: Row = {
  title: "Workload",
  unit: "unit",
  stead: "Stead",
  workerd: "workerd",
  ratio: "Stead/workerd",
  p50: "p50 ms S | W",
  p99: "p99 ms S | W",
  p99Ratio: "p99 S/W",
  rss: "peak RSS MB S | W",
  cpu: "server CPU S | W",
};

function rows(report: RunReport): Row[] {
  return report.workloads.map((workload) => {
    const find = (runtime: RuntimeName) =>
      report.measurements.find((m) => m.workload === workload.id && m.runtime === runtime);
    const s = find("stead");
    const w = find("workerd");
    const pair = (value: (m: Measurement) => string) =>
      `${s ? value(s) : "-"} | ${w ? value(w) : "-"}`;
    return {
      title: `${workload.id} ${workload.title}`,
      unit: (s ?? w)?.unit ?? "",
      stead: rate(s),
      workerd: rate(w),
      ratio: ratio(s?.perSecond, w?.perSecond),
      p50: pair((m) => ms(m.p50Ms)),
      p99: pair((m) => ms(m.p99Ms)),
      p99Ratio: ratio(s?.p99Ms, w?.p99Ms),
      rss: pair((m) =>
        m.peakRssBytes === undefined ? "-" : (m.peakRssBytes / 2 ** 20).toFixed(0),
      ),
      cpu: pair((m) => (m.serverCpu === undefined ? "-" : `${Math.round(m.serverCpu * 100)}%`)),
    };
  });
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

/** The results as an aligned plain-text table. */
export function formatTable(report: RunReport): string {
  const all = [HEADINGS, ...rows(report)];
  const keys = Object.keys(HEADINGS) as Array<keyof Row>;
  const widths = keys.map((key) => Math.max(...all.map((row) => row[key].length)));
  const line = (row: Row) =>
    keys
      .map((key, i) => (i < 2 ? row[key].padEnd(widths[i]!) : row[key].padStart(widths[i]!)))
      .join("  ");
  const [head, ...body] = all;
  return [line(head!), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

function markdownTable(report: RunReport): string {
  const keys = Object.keys(HEADINGS) as Array<keyof Row>;
  // Markdown cells cannot hold "|": pairs read "Stead / workerd" there.
  const line = (row: Row) =>
    `| ${keys.map((key) => row[key].replaceAll(" | ", " / ")).join(" | ")} |`;
  return [
    line(HEADINGS),
    `|${keys.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
    ...rows(report).map(line),
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
    ...(failures.length > 0 ? [...failures, ""] : []),
    `Raw results: \`${jsonPath}\`.`,
    "",
  ].join("\n");
  appendFileSync(file, entry);
}
