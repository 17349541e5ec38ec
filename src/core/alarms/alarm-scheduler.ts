import type { Clock, TimerHandle } from "../clock.ts";
import { describeError } from "../error-text.ts";
import type { AlarmIndex, AlarmRecord } from "../storage/driver.ts";
import { MAX_ALARM_RETRIES, retryDelay } from "./retry-policy.ts";
import type { AlarmOutcome } from "./run-alarm.ts";

/** Delivers an alarm to its object (waking it if needed). */
export type AlarmDelivery = (record: AlarmRecord) => Promise<AlarmOutcome>;

/** Alarms started per wake-up at most; the rest follow as these finish. */
const BATCH = 64;

/**
 * Wakes objects whose alarm is due. It keeps one timer, for the earliest alarm in the index,
 * and reads only the head of the index, never all of it. Delivery is at least once: an alarm
 * stays in the index until its handler's commit is durable, so a crash re-delivers it.
 */
export class AlarmScheduler {
  readonly #index: AlarmIndex;
  readonly #clock: Clock;
  readonly #deliver: AlarmDelivery;
  readonly #onError: (error: unknown, record: AlarmRecord) => void;
  readonly #inFlight = new Set<string>();
  #timer: TimerHandle | undefined;
  #timerAt: number | undefined;
  #stopped = true;

  constructor(
    index: AlarmIndex,
    clock: Clock,
    deliver: AlarmDelivery,
    onError: (error: unknown, record: AlarmRecord) => void,
  ) {
    this.#index = index;
    this.#clock = clock;
    this.#deliver = deliver;
    this.#onError = onError;
  }

  /** Starts watching the index. */
  start(): void {
    this.#stopped = false;
    this.#arm();
  }

  /** Stops; alarms stay in the index for the next start. */
  stop(): void {
    this.#stopped = true;
    this.#clearTimer();
  }

  /** Call this after the index changed, so an earlier alarm is not missed. */
  changed(): void {
    if (!this.#stopped) this.#arm();
  }

  /** Resolves once no alarm delivery is in flight. */
  get busy(): boolean {
    return this.#inFlight.size > 0;
  }

  #arm(): void {
    const now = this.#clock.now();
    let next: number | undefined;
    for (const record of this.#index.earliest(this.#inFlight.size + 1)) {
      if (!this.#inFlight.has(keyOf(record))) {
        next = record.time;
        break;
      }
    }
    if (next === undefined) {
      this.#clearTimer();
      return;
    }
    if (this.#timer !== undefined && this.#timerAt !== undefined && this.#timerAt <= next) return;
    this.#clearTimer();
    this.#timerAt = next;
    this.#timer = this.#clock.setTimer(this.#fire, Math.max(0, next - now));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = undefined;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#timerAt = undefined;
    if (this.#stopped) return;
    const now = this.#clock.now();
    for (const record of this.#index.earliest(this.#inFlight.size + BATCH)) {
      if (record.time > now) break;
      const key = keyOf(record);
      if (this.#inFlight.has(key)) continue;
      this.#inFlight.add(key);
      this.#run(record).finally(() => {
        this.#inFlight.delete(key);
        this.changed();
      });
    }
    this.#arm();
  };

  async #run(record: AlarmRecord): Promise<void> {
    let outcome: AlarmOutcome;
    try {
      outcome = await this.#deliver(record);
    } catch (error) {
      // The object could not run the handler (constructor threw, object reset, overloaded).
      outcome = { kind: "failed", error };
    }
    // Stopped meanwhile (the runtime is being disposed and its index closed): leave the alarm
    // as recorded, so the next start delivers it again.
    if (this.#stopped) return;
    const { namespace, id } = record;
    switch (outcome.kind) {
      case "ran":
        return;
      case "not-due":
        if (outcome.time === null) this.#index.delete(namespace, id);
        else
          this.#index.set({
            ...record,
            time: outcome.time,
            scheduledTime: outcome.time,
            retryCount: 0,
          });
        return;
      case "failed": {
        this.#onError(outcome.error, record);
        const retryCount = record.retryCount + 1;
        if (retryCount > MAX_ALARM_RETRIES) {
          this.#index.deadLetter({
            namespace,
            id,
            name: record.name,
            scheduledTime: record.scheduledTime,
            retryCount: record.retryCount,
            error: describeError(outcome.error),
            failedAt: this.#clock.now(),
          });
        } else {
          const time = this.#clock.now() + retryDelay(record.retryCount);
          this.#index.set({ ...record, time, retryCount });
        }
      }
    }
  }
}

function keyOf(record: AlarmRecord): string {
  return `${record.namespace}/${record.id}`;
}
