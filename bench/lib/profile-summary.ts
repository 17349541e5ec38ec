// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per
// function, inclusive time per function, and self time per source file, as shares of the time
// the process was busy (samples outside "(idle)").
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  name: string;
  ms: number;
  /** Share of busy time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  self: Share[];
  inclusive: Share[];
  files: Share[];
}

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** A span of CLOCK_MONOTONIC time in microseconds (`process.hrtime.bigint() / 1000n`). */
export interface TimeWindow {
  startUs: number;
  endUs: number;
}

/** CLOCK_MONOTONIC in microseconds: the clock V8's CPU profiles are stamped with. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Summarizes the samples of the profile at `path`, only those inside `window` if given. */
export function summarizeProfile(path: string, window?: TimeWindow): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const files = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  // Sample i was taken at startTime + timeDeltas[0..i]; it stands for the interval up to the
  // next sample.
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]!;
    if (window !== undefined && (at < window.startUs || at > window.endUs)) continue;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    totalMs += ms;
    const leaf = byId.get(profile.samples[i]!)!;
    if (leaf.callFrame.functionName === "(idle)") {
      idleMs += ms;
      continue;
    }
    add(self, functionKey(leaf), ms);
    add(files, fileKey(leaf), ms);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const key = functionKey(byId.get(id)!);
      if (key === "(root)" || seen.has(key)) continue;
      seen.add(key);
      add(inclusive, key, ms);
    }
  }
  const busyMs = totalMs - idleMs;
  const shares = (map: Map<string, number>) =>
    [...map]
      .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return {
    totalMs,
    idleMs,
    busyMs,
    self: shares(self),
    inclusive: shares(inclusive),
    files: shares(files),
  };
}

function add(map: Map<string, number>, key: string, ms: number): void {
  map.set(key, (map.get(key) ?? 0) + ms);
}

function functionKey(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || "(anonymous)";
  if (url === "") return name;
  return `${name} ${shortUrl(url)}:${lineNumber + 1}`;
}

function fileKey(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  return shortUrl(url);
}

function shortUrl(url: string): string {
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  return path.startsWith(REPO) ? path.slice(REPO.length) : path;
}

/** A readable report: the top `top` entries of each list. */
export function formatProfileSummary(summary: ProfileSummary, top = 25): string {
  const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)}%`;
  const list = (title: string, shares: Share[]) =>
    [title, ...shares.slice(0, top).map((s) => `  ${pct(s.share)}  ${s.name}`)].join("\n");
  return [
    `busy ${(summary.busyMs / 1000).toFixed(1)} s of ${(summary.totalMs / 1000).toFixed(1)} s profiled (shares below are of busy time)`,
    list("self time by function:", summary.self),
    list("inclusive time by function:", summary.inclusive),
    list("self time by file:", summary.files),
  ].join("\n\n");
}
