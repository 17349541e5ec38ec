import { DurableObject } from "cloudflare:workers";
import type { Env } from "./index";

const DAY_MS = 24 * 60 * 60 * 1000;

export type Plan = "trial" | "free" | "paid";

/** One row of the account's audit trail: what happened and the plan it left. */
export type AuditEntry = {
  at: number;
  event: "trial_started" | "trial_extended" | "upgraded" | "downgraded";
  plan: Plan;
  trialEndsAt: number;
};

export interface AccountView {
  id: string;
  plan: Plan;
  trialStartedAt: number;
  /** When the trial ends, or ended. */
  trialEndsAt: number;
  history: AuditEntry[];
}

export type Outcome =
  | { ok: true; account: AccountView }
  | { ok: false; status: 404 | 409; error: string };

// A row type is an alias, not an interface: sql.exec<T> needs T to be a plain record type.
type AccountRow = {
  id: string;
  plan: Plan;
  trial_started_at: number;
  trial_ends_at: number;
};

/**
 * One account. Starting its trial sets the alarm for the trial's end, where `alarm()` moves it
 * to the free plan; upgrading deletes that alarm and extending moves it. Each change and its
 * audit row are written with no await between them, so they commit as one transaction.
 */
export class Account extends DurableObject<Env> {
  readonly #trialMs: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const days = Number(env.TRIAL_DAYS);
    if (env.TRIAL_DAYS === "" || !Number.isFinite(days) || days <= 0) {
      throw new Error(`TRIAL_DAYS must be a number of days above 0, not "${env.TRIAL_DAYS}"`);
    }
    this.#trialMs = days * DAY_MS;
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS account (
        only INTEGER PRIMARY KEY CHECK (only = 1),
        id TEXT NOT NULL,
        plan TEXT NOT NULL CHECK (plan IN ('trial', 'free', 'paid')),
        trial_started_at INTEGER NOT NULL,
        trial_ends_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        event TEXT NOT NULL,
        plan TEXT NOT NULL,
        trial_ends_at INTEGER NOT NULL
      );
    `);
  }

  /** Opens the account on a trial of TRIAL_DAYS; each account gets one trial. */
  async startTrial(id: string): Promise<Outcome> {
    const row = this.#row();
    if (row !== undefined) {
      const why =
        row.plan === "trial"
          ? `is on a trial until ${new Date(row.trial_ends_at).toISOString()}`
          : row.plan === "free"
            ? "already had its trial"
            : "is on the paid plan";
      return { ok: false, status: 409, error: `Account ${id} ${why}` };
    }
    const now = Date.now();
    const endsAt = now + this.#trialMs;
    this.ctx.storage.sql.exec(
      "INSERT INTO account (only, id, plan, trial_started_at, trial_ends_at) VALUES (1, ?, 'trial', ?, ?)",
      id,
      now,
      endsAt,
    );
    this.#audit("trial_started", "trial", endsAt);
    await this.ctx.storage.setAlarm(endsAt);
    return this.#ok();
  }

  /** Moves a running trial's end, and its alarm, `days` later. */
  async extendTrial(days: number): Promise<Outcome> {
    const row = this.#row();
    if (row === undefined) return this.#missing();
    if (row.plan !== "trial") {
      return {
        ok: false,
        status: 409,
        error: `Account ${row.id} is on the ${row.plan} plan: only a running trial can be extended`,
      };
    }
    const endsAt = row.trial_ends_at + days * DAY_MS;
    this.ctx.storage.sql.exec("UPDATE account SET trial_ends_at = ?", endsAt);
    this.#audit("trial_extended", "trial", endsAt);
    // One alarm per object: setting it again replaces the one for the old end.
    await this.ctx.storage.setAlarm(endsAt);
    return this.#ok();
  }

  /** Moves the account to the paid plan, cancelling the trial's downgrade. */
  async upgrade(): Promise<Outcome> {
    const row = this.#row();
    if (row === undefined) return this.#missing();
    if (row.plan !== "paid") {
      this.ctx.storage.sql.exec("UPDATE account SET plan = 'paid'");
      this.#audit("upgraded", "paid", row.trial_ends_at);
      await this.ctx.storage.deleteAlarm();
    }
    return this.#ok();
  }

  /** The account and its history; null if it never started a trial. */
  async account(): Promise<AccountView | null> {
    const row = this.#row();
    if (row === undefined) return null;
    const history = this.ctx.storage.sql
      .exec<AuditEntry>(
        "SELECT at, event, plan, trial_ends_at AS trialEndsAt FROM audit ORDER BY seq",
      )
      .toArray();
    return {
      id: row.id,
      plan: row.plan,
      trialStartedAt: row.trial_started_at,
      trialEndsAt: row.trial_ends_at,
      history,
    };
  }

  /**
   * The trial's end. Alarms are delivered at least once, so this may run again after the
   * downgrade was recorded (a crash before the alarm was marked done), and a retry may come
   * after an upgrade. Only an account still on its trial changes: it is downgraded once, and a
   * paying account never.
   */
  async alarm(): Promise<void> {
    const row = this.#row();
    if (row?.plan !== "trial") return;
    this.ctx.storage.sql.exec("UPDATE account SET plan = 'free'");
    this.#audit("downgraded", "free", row.trial_ends_at);
  }

  #row(): AccountRow | undefined {
    return this.ctx.storage.sql.exec<AccountRow>("SELECT * FROM account").toArray()[0];
  }

  #audit(event: AuditEntry["event"], plan: Plan, trialEndsAt: number): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO audit (at, event, plan, trial_ends_at) VALUES (?, ?, ?, ?)",
      Date.now(),
      event,
      plan,
      trialEndsAt,
    );
  }

  async #ok(): Promise<Outcome> {
    return { ok: true, account: (await this.account())! };
  }

  #missing(): Outcome {
    return { ok: false, status: 404, error: "No such account" };
  }
}
