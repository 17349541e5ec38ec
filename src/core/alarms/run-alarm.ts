import type { AlarmRecord } from "../storage/driver.ts";
import { type DurableObjectStorage, storageInternals } from "../storage/durable-object-storage.ts";
import { MAX_ALARM_RETRIES } from "./retry-policy.ts";

/** How an alarm delivery ended, for the scheduler. */
export type AlarmOutcome =
  | { kind: "ran" }
  | { kind: "not-due"; time: number | null }
  | { kind: "failed"; error: unknown };

export interface AlarmRunOptions {
  now: number;
  /** Run even if not yet due (the `runDurableObjectAlarm` test helper). */
  force: boolean;
  /** The instance's reset error, if it was reset while the handler ran. */
  broken(): Error | undefined;
}

/**
 * Runs an object's `alarm()` handler, as one of its events. Checks the alarm the object itself
 * stores (the index may be stale), hides it from `getAlarm()` while the handler runs, and clears
 * it on success or on the last failed retry, unless the handler set a new one.
 */
export async function runAlarm(
  instance: { alarm?: (info: unknown) => unknown },
  storage: DurableObjectStorage,
  record: AlarmRecord,
  options: AlarmRunOptions,
): Promise<AlarmOutcome> {
  const internals = storageInternals(storage);
  const stored = internals.readAlarm();
  if (stored === null || (stored > options.now && !options.force)) {
    return { kind: "not-due", time: stored };
  }
  if (typeof instance.alarm !== "function") return { kind: "not-due", time: null };
  const scheduledTime = stored;
  const retryCount = stored === record.scheduledTime ? record.retryCount : 0;
  internals.alarmRunning(scheduledTime);
  let failure: { error: unknown } | undefined;
  try {
    await instance.alarm({ retryCount, isRetry: retryCount > 0, scheduledTime });
  } catch (error) {
    failure = { error };
  } finally {
    internals.alarmRunning(undefined);
  }
  const broken = options.broken();
  if (broken !== undefined) throw broken;
  // A handler that set an alarm (even for this very time: a forced early run may re-arm it) or
  // deleted it has superseded this one, even if it then threw.
  if (internals.alarmSetDuringRun() || internals.readAlarm() !== scheduledTime) {
    return { kind: "ran" };
  }
  if (failure === undefined || retryCount >= MAX_ALARM_RETRIES) {
    internals.completeAlarm(scheduledTime);
  }
  return failure === undefined ? { kind: "ran" } : { kind: "failed", error: failure.error };
}
