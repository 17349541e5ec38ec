import { z } from "zod";

/** `limits.cpu_ms` / `cpuLimitMs`: Cloudflare's bounds on one event's CPU time, in ms. */
export const cpuLimitSchema = z
  .number({ error: "must be a number of milliseconds, like 30000" })
  .int({ error: "must be a whole number of milliseconds, like 30000" })
  .positive({ error: "must be a positive number of milliseconds, like 30000" })
  .max(300_000, { error: "may be at most 300000 (5 minutes), as on Cloudflare" });
