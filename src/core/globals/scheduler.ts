import { setTimeout as delay } from "node:timers/promises";

/** Workers' `scheduler` global: `await scheduler.wait(ms)` is a promise-based `setTimeout`. */
export class Scheduler {
  wait(ms: number, options?: { signal?: AbortSignal }): Promise<void> {
    return delay(ms, undefined, options?.signal === undefined ? {} : { signal: options.signal });
  }
}
