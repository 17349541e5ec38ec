// The change feed benches' view of PostgreSQL: the CPU its feed connections use.
import type pg from "pg";
import { cpuSeconds } from "./processes.ts";

/** CPU seconds so far of each PostgreSQL backend serving a change feed (same machine: /proc). */
export async function feedBackendCpu(db: pg.Pool): Promise<Map<number, number>> {
  const { rows } = await db.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'stead-feed'",
  );
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    const seconds = cpuSeconds(pid);
    if (seconds !== undefined) cpu.set(pid, seconds);
  }
  return cpu;
}

/** CPU seconds the feed's backends used since `before` (a `feedBackendCpu` reading). */
export async function feedBackendCpuSince(
  db: pg.Pool,
  before: Map<number, number>,
): Promise<number> {
  let used = 0;
  for (const [pid, seconds] of await feedBackendCpu(db)) used += seconds - (before.get(pid) ?? 0);
  return used;
}
