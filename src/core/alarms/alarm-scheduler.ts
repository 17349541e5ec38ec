import type { Clock, TimerHandle } from "../clock.ts";
import { describeError, errorMessage } from "../error-text.ts";
import type { AlarmCounts, AlarmIndex, AlarmRecord, SharedAlarmIndex } from "../storage/driver.ts";
import { MAX_ALARM_RETRIES, retryDelay } from "./retry-policy.ts";
import type { AlarmOutcome } from "./run-alarm.ts";

/** Alarm deliveries of one namespace since the scheduler started, by how they ended (metrics). */
export interface AlarmRunCounts {
  /** The handler ran and returned. */
  succeeded: number;
  /** The handler threw, or the object could not run it; a retry is scheduled. */
  retried: number;
  /** The last retry failed: the alarm was dead-lettered. */
  deadLettered: number;
}

/** Delivers an alarm to its object (waking it if needed). */
export type AlarmDelivery = (record: AlarmRecord) => Promise<AlarmOutcome>;

/** Alarms started per wake-up at most; the rest follow as these finish. */
const BATCH = 64;

/**
 * How long a claimed alarm stays with this scheduler before another may take it (shared index):
 * renewed every third of it while the alarm runs, so it bounds how late an alarm of a scheduler
 * that died runs, not how long a handler may take.
 */
export const ALARM_LEASE_MS = 6_000;

/**
 * How often a shared index is re-read for alarms other processes wrote, or whose lease ended,
 * and how long to wait after failing to reach it.
 */
export const ALARM_POLL_MS = 1_000;

/**
 * Wakes objects whose alarm is due. It keeps one timer, for the earliest alarm in the index,
 * and reads only the head of the index, never all of it. Delivery is at least once: an alarm
 * stays in the index until its handler's commit is durable, so a crash re-delivers it.
 *
 * With a shared index (`AlarmIndex.shared`, several processes or threads writing it), the timer
 * follows the index's cached head, the head is re-read every `ALARM_POLL_MS` and whenever the
 * index changed, and due alarms are claimed (`claimDue`) before they are delivered, so two
 * schedulers never deliver one alarm at once; a scheduler that dies leaves its claims to expire.
 */
export class AlarmScheduler {
  readonly #index: AlarmIndex;
  readonly #clock: Clock;
  readonly #deliver: AlarmDelivery;
  readonly #onError: (error: unknown, record: AlarmRecord | undefined) => void;
  readonly #inFlight = new Set<string>();
  #timer: TimerHandle | undefined;
  #timerAt: number | undefined;
  #stopped = true;
  /** Shared index: the poll timer, a claim or re-read in flight, one asked for meanwhile. */
  #pollTimer: TimerHandle | undefined;
  #claiming = false;
  #refreshing = false;
  #refreshAgain = false;
  /** Shared index: no claim before this time (it could not be reached). */
  #claimAfter = 0;
  /** Shared index: renews the claims of the alarms running here. */
  #renewTimer: TimerHandle | undefined;
  /** Deliveries by storage name and outcome (metrics). */
  readonly #runs = new Map<string, AlarmRunCounts>();

  /** `onError` hears of failed alarms and, with `record` undefined, of an unreachable index. */
  constructor(
    index: AlarmIndex,
    clock: Clock,
    deliver: AlarmDelivery,
    onError: (error: unknown, record: AlarmRecord | undefined) => void,
  ) {
    this.#index = index;
    this.#clock = clock;
    this.#deliver = deliver;
    this.#onError = onError;
  }

  /** Starts watching the index; resolves once a shared index's head has been read. */
  start(): Promise<void> {
    this.#stopped = false;
    const read = this.#index.shared === undefined ? undefined : this.#refresh(this.#index.shared);
    this.#arm();
    return read ?? Promise.resolve();
  }

  /** Stops; alarms stay in the index for the next start. */
  stop(): void {
    this.#stopped = true;
    this.#clearTimer();
    if (this.#pollTimer !== undefined) this.#clock.clearTimer(this.#pollTimer);
    this.#pollTimer = undefined;
    if (this.#renewTimer !== undefined) this.#clock.clearTimer(this.#renewTimer);
    this.#renewTimer = undefined;
  }

  /**
   * Call this after the index changed, so an earlier alarm is not missed. A shared index is
   * re-read too, since the change may have been made by another thread.
   */
  changed(): void {
    if (this.#stopped) return;
    if (this.#index.shared !== undefined) this.#refresh(this.#index.shared);
    this.#arm();
  }

  /** Resolves once no alarm delivery is in flight. */
  get busy(): boolean {
    return this.#inFlight.size > 0;
  }

  /** Alarm deliveries in flight now (metrics). */
  get running(): number {
    return this.#inFlight.size;
  }

  /** Deliveries since start by storage name, for metrics (the map is live: read, don't keep). */
  get runs(): ReadonlyMap<string, Readonly<AlarmRunCounts>> {
    return this.#runs;
  }

  /** How many alarms are due, retrying and dead-lettered, when the index counts them (metrics). */
  counts(): Promise<AlarmCounts> | undefined {
    return this.#index.counts?.(this.#clock.now());
  }

  #runsOf(namespace: string): AlarmRunCounts {
    let runs = this.#runs.get(namespace);
    if (runs === undefined) {
      runs = { succeeded: 0, retried: 0, deadLettered: 0 };
      this.#runs.set(namespace, runs);
    }
    return runs;
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
    if (this.#index.shared !== undefined) {
      this.#claim(this.#index.shared, now);
      return;
    }
    for (const record of this.#index.earliest(this.#inFlight.size + BATCH)) {
      if (record.time > now) break;
      this.#start(record);
    }
    this.#arm();
  };

  /** Shared index: takes what is due and delivers it; the index drops what others hold. */
  #claim(shared: SharedAlarmIndex, now: number): void {
    if (this.#claiming || now < this.#claimAfter) {
      // Armed again once the claim in flight ends, or by the next poll.
      return;
    }
    this.#claiming = true;
    shared
      .claimDue(now, BATCH, ALARM_LEASE_MS)
      .then(
        (records) => {
          for (const record of records) this.#start(record);
        },
        (error: unknown) => {
          this.#claimAfter = this.#clock.now() + ALARM_POLL_MS;
          this.#onError(error, undefined);
        },
      )
      .finally(() => {
        this.#claiming = false;
        if (!this.#stopped) this.#arm();
      });
  }

  /**
   * Shared index: re-reads its head now (one read at a time), then every `ALARM_POLL_MS`.
   * Resolves when this read (or the one in flight) has ended and the timer is armed.
   */
  #refresh(shared: SharedAlarmIndex): Promise<void> | undefined {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return undefined;
    }
    this.#refreshing = true;
    if (this.#pollTimer !== undefined) this.#clock.clearTimer(this.#pollTimer);
    this.#pollTimer = undefined;
    return shared
      .refresh(this.#clock.now())
      .catch((error: unknown) => {
        // A read still in flight when the runtime stopped fails as its store closes: no news.
        if (!this.#stopped) this.#onError(error, undefined);
      })
      .finally(() => {
        this.#refreshing = false;
        if (this.#stopped) return;
        if (this.#refreshAgain) {
          this.#refreshAgain = false;
          this.#refresh(shared);
          return;
        }
        this.#pollTimer = this.#clock.setTimer(() => {
          this.#pollTimer = undefined;
          if (!this.#stopped) this.#refresh(shared);
        }, ALARM_POLL_MS);
        this.#arm();
      });
  }

  /** Shared index: while alarms run here, renews their claims every third of the lease. */
  #keepClaims(shared: SharedAlarmIndex): void {
    if (this.#renewTimer !== undefined || this.#stopped) return;
    this.#renewTimer = this.#clock.setTimer(() => {
      this.#renewTimer = undefined;
      if (this.#stopped || this.#inFlight.size === 0) return;
      shared
        .renewClaims(this.#clock.now(), ALARM_LEASE_MS)
        .catch((error: unknown) => this.#onError(error, undefined))
        .finally(() => this.#keepClaims(shared));
    }, ALARM_LEASE_MS / 3);
  }

  #start(record: AlarmRecord): void {
    const key = keyOf(record);
    if (this.#inFlight.has(key)) return;
    this.#inFlight.add(key);
    if (this.#index.shared !== undefined) this.#keepClaims(this.#index.shared);
    this.#run(record).finally(() => {
      this.#inFlight.delete(key);
      // The outcome changed the index here (a shared one's head included): no re-read needed.
      if (!this.#stopped) this.#arm();
    });
  }

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
        this.#runsOf(namespace).succeeded++;
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
          this.#runsOf(namespace).deadLettered++;
          this.#onError(
            new Error(
              `The alarm of ${namespace} ${record.name ?? id} failed ${retryCount} times and is given up (dead-lettered). Last error: ${firstLine(outcome.error)}. Once fixed: stead objects dead-letters retry ${namespace} ${record.name ?? id}.`,
            ),
            record,
          );
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
          this.#runsOf(namespace).retried++;
          const time = this.#clock.now() + retryDelay(record.retryCount);
          this.#index.set({ ...record, time, retryCount });
        }
      }
    }
  }
}

function firstLine(error: unknown): string {
  return errorMessage(error).split("\n")[0]!;
}

function keyOf(record: AlarmRecord): string {
  return `${record.namespace}/${record.id}`;
}
