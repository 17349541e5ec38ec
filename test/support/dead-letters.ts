import type { ManualClock, Runtime } from "../../src/index.ts";
import { waitFor } from "./wait-for.ts";

/**
 * Makes the alarms of the `ALARMED` objects `names` (test/fixtures/alarm-worker.ts) fail every
 * retry, advancing `clock` through Cloudflare's backoff until each is dead-lettered.
 */
export async function deadLetterAlarms(
  rt: Runtime,
  clock: ManualClock,
  names: readonly string[],
): Promise<void> {
  const stubs = names.map((name) => rt.env.ALARMED.getByName(name));
  for (const stub of stubs) {
    await stub.failTimes(-1);
    await stub.schedule(clock.now() + 10);
  }
  await clock.advance(10);
  for (let attempt = 1; attempt <= 7; attempt++) {
    for (const stub of stubs) {
      await waitFor(async () => (await stub.runs()).length === attempt, `attempt ${attempt}`);
    }
    if (attempt < 7) await clock.advance(2000 * 2 ** (attempt - 1));
  }
  await waitFor(() => rt.alarmDeadLetters().length >= names.length, `${names.length} dead letters`);
}
