import { DurableObject } from "cloudflare:workers";
import type { Env } from "./index";

/** The event a spend sends when it takes a balance below `LOW_CREDITS_THRESHOLD`. */
export type LowCredits = { type: "credits.low"; userId: string; balance: number; at: number };

/** One entry of a user's ledger: a grant or a spend, and the balance it left. */
export type LedgerEntry = {
  seq: number;
  at: number;
  kind: "grant" | "spend";
  amount: number;
  balance: number;
};

export interface CreditsView {
  userId: string;
  balance: number;
  updatedAt: number;
  ledger: LedgerEntry[];
}

export type Outcome =
  | { ok: true; credits: CreditsView }
  | { ok: false; status: 404 | 409; error: string };

// Row types are aliases, not interfaces: sql.exec<T> needs T to be a plain record type.
type BalanceRow = { user_id: string; credits: number; updated_at: number };

/** The most entries `balance()` shows, newest last. */
const LEDGER_SHOWN = 20;

/**
 * One user's credits. `balance` holds one row, keyed by the user's id, which the change feed
 * copies to PostgreSQL as `"UserCredits_balance"`; `ledger` keeps every grant and spend (fed as
 * `"UserCredits_ledger"`). Both tables have a primary key: the feed captures only such tables.
 * Each change writes both with no await between them, so they commit as one transaction.
 */
export class UserCredits extends DurableObject<Env> {
  readonly #threshold: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const threshold = Number(env.LOW_CREDITS_THRESHOLD);
    if (env.LOW_CREDITS_THRESHOLD === "" || !Number.isSafeInteger(threshold) || threshold < 1) {
      throw new Error(
        `LOW_CREDITS_THRESHOLD must be a whole number of credits above 0, not "${env.LOW_CREDITS_THRESHOLD}"`,
      );
    }
    this.#threshold = threshold;
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS balance (
        user_id TEXT PRIMARY KEY,
        credits INTEGER NOT NULL CHECK (credits >= 0),
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS ledger (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('grant', 'spend')),
        amount INTEGER NOT NULL CHECK (amount > 0),
        balance INTEGER NOT NULL
      );
    `);
  }

  /** Adds `amount` credits (a whole number above 0), opening the user's account on first use. */
  async grant(userId: string, amount: number): Promise<Outcome> {
    const before = this.#row();
    if (before !== undefined && before.user_id !== userId) return this.#wrongUser(before, userId);
    this.#write(userId, "grant", amount, (before?.credits ?? 0) + amount);
    return { ok: true, credits: this.#view()! };
  }

  /**
   * Takes `amount` credits, or refuses (409) when the user has fewer: a balance never goes
   * below zero. A spend that takes the balance from the threshold or more to below it sends
   * `credits.low` to the LOW_CREDITS queue. The send comes after the write, so the output gate
   * holds it until the write is durable: the event never announces a spend that was lost.
   */
  async spend(userId: string, amount: number): Promise<Outcome> {
    const before = this.#row();
    if (before === undefined) return { ok: false, status: 404, error: noUser(userId) };
    if (before.user_id !== userId) return this.#wrongUser(before, userId);
    if (amount > before.credits) {
      return {
        ok: false,
        status: 409,
        error: `Cannot spend ${amount} credits: user ${userId} has ${before.credits}. Grant more first (POST /users/${userId}/grant).`,
      };
    }
    const after = before.credits - amount;
    const at = this.#write(userId, "spend", amount, after);
    if (before.credits >= this.#threshold && after < this.#threshold) {
      const event: LowCredits = { type: "credits.low", userId, balance: after, at };
      await this.env.LOW_CREDITS.send(event);
    }
    return { ok: true, credits: this.#view()! };
  }

  /** The user's balance and latest ledger entries, or null before the first grant. */
  async balance(): Promise<CreditsView | null> {
    return this.#view() ?? null;
  }

  #write(userId: string, kind: "grant" | "spend", amount: number, credits: number): number {
    const at = Date.now();
    const sql = this.ctx.storage.sql;
    sql.exec(
      `INSERT INTO balance (user_id, credits, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET credits = excluded.credits, updated_at = excluded.updated_at`,
      userId,
      credits,
      at,
    );
    sql.exec(
      "INSERT INTO ledger (at, kind, amount, balance) VALUES (?, ?, ?, ?)",
      at,
      kind,
      amount,
      credits,
    );
    return at;
  }

  #row(): BalanceRow | undefined {
    return this.ctx.storage.sql
      .exec<BalanceRow>("SELECT user_id, credits, updated_at FROM balance")
      .toArray()[0];
  }

  #view(): CreditsView | undefined {
    const row = this.#row();
    if (row === undefined) return undefined;
    const ledger = this.ctx.storage.sql
      .exec<LedgerEntry>(
        "SELECT seq, at, kind, amount, balance FROM ledger ORDER BY seq DESC LIMIT ?",
        LEDGER_SHOWN,
      )
      .toArray()
      .reverse();
    return { userId: row.user_id, balance: row.credits, updatedAt: row.updated_at, ledger };
  }

  #wrongUser(row: BalanceRow, userId: string): Outcome {
    // Only a stub made some other way than idFromName(userId) gets here.
    return {
      ok: false,
      status: 409,
      error: `This object holds the credits of ${row.user_id}, not ${userId}: get it with idFromName("${userId}")`,
    };
  }
}

export function noUser(userId: string): string {
  return `No credits for user ${userId}: grant some first with POST /users/${userId}/grant`;
}
