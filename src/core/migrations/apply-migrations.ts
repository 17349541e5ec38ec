import type { StorageDriver } from "../storage/driver.ts";
import type { MigrationPlan } from "./plan-migrations.ts";

/**
 * Carries out a plan from `planMigrations`, one migration at a time, in order. Each migration
 * deletes its namespaces first and then records its tag durably, so a crash in between re-runs
 * an idempotent deletion on the next start instead of leaving data the records say is gone.
 */
export async function applyMigrationPlan(
  driver: StorageDriver,
  plan: MigrationPlan,
): Promise<void> {
  for (const step of plan.steps) {
    for (const storageName of step.deleteStorage) driver.deleteNamespace(storageName);
    await driver.control.commit(step.change);
  }
  if (plan.firstSight.length > 0) await driver.control.commit({ put: plan.firstSight });
}
