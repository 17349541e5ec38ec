import type { AlarmScheduler } from "../../core/alarms/alarm-scheduler.ts";
import { counter, gauge, type MetricFamily } from "./metric-family.ts";

/**
 * The alarm scheduler's metrics (it runs on the main thread). `classOf` names the class of a
 * storage name. In a cluster the index is shared: every node reports the same due, retrying
 * and dead-lettered alarms.
 */
export async function alarmFamilies(
  scheduler: AlarmScheduler,
  classOf: (storageName: string) => string,
): Promise<MetricFamily[]> {
  // An index that cannot be read now (PostgreSQL unreachable) leaves its gauges out: the rest of
  // the metrics matter most then.
  const counts = await scheduler.counts()?.catch(() => undefined);
  const runs = [...scheduler.runs].flatMap(([storageName, outcomes]) => {
    const className = classOf(storageName);
    return [
      { labels: { class: className, outcome: "succeeded" }, value: outcomes.succeeded },
      { labels: { class: className, outcome: "retried" }, value: outcomes.retried },
      { labels: { class: className, outcome: "dead_lettered" }, value: outcomes.deadLettered },
    ];
  });
  return [
    gauge("stead_alarms_running", "Alarm handlers running now.", [
      { labels: {}, value: scheduler.running },
    ]),
    ...(counts === undefined
      ? []
      : [
          gauge("stead_alarms_due", "Alarms whose time has come, running ones included.", [
            { labels: {}, value: counts.due },
          ]),
          gauge("stead_alarms_retrying", "Alarms that failed and wait for a retry.", [
            { labels: {}, value: counts.retrying },
          ]),
          gauge("stead_alarms_dead_letters", "Alarms given up after every retry failed.", [
            { labels: {}, value: counts.deadLetters },
          ]),
        ]),
    counter(
      "stead_alarm_runs_total",
      "Alarm deliveries, by how they ended: succeeded, retried (failed, retry scheduled), dead_lettered.",
      runs,
    ),
  ];
}
