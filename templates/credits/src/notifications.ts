import { DurableObject } from "cloudflare:workers";
import type { Env } from "./index";
import type { LowCredits } from "./user-credits";

export type Notification = LowCredits & { messageId: string; receivedAt: number };

type NotificationRow = {
  message_id: string;
  user_id: string;
  balance: number;
  at: number;
  received_at: number;
};

/** The most notifications `list()` returns, newest last. */
const LISTED = 1000;

/**
 * The notifications the queue consumer received, in one object (`getByName("all")`): where a
 * real app would email the user or call a webhook. Keyed by the queue message's id, so a message
 * delivered again (delivery is at least once) is recorded once.
 */
export class Notifications extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS notification (
        message_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        balance INTEGER NOT NULL,
        at INTEGER NOT NULL,
        received_at INTEGER NOT NULL
      )
    `);
  }

  /** Records the event, once per message id. */
  async record(messageId: string, event: LowCredits): Promise<void> {
    this.ctx.storage.sql.exec(
      `INSERT INTO notification (message_id, user_id, balance, at, received_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
      messageId,
      event.userId,
      event.balance,
      event.at,
      Date.now(),
    );
  }

  async list(): Promise<Notification[]> {
    return this.ctx.storage.sql
      .exec<NotificationRow>(
        "SELECT * FROM (SELECT * FROM notification ORDER BY received_at DESC, message_id LIMIT ?) ORDER BY received_at, message_id",
        LISTED,
      )
      .toArray()
      .map((row) => ({
        type: "credits.low",
        messageId: row.message_id,
        userId: row.user_id,
        balance: row.balance,
        at: row.at,
        receivedAt: row.received_at,
      }));
  }
}
