import { lowBalance } from "./low-balance";
import type { Notifications } from "./notifications";
import { type LowCredits, noUser, type Outcome, type UserCredits } from "./user-credits";

export { Notifications } from "./notifications";
export { UserCredits } from "./user-credits";

export interface Env {
  USER_CREDITS: DurableObjectNamespace<UserCredits>;
  NOTIFICATIONS: DurableObjectNamespace<Notifications>;
  LOW_CREDITS: Queue<LowCredits>;
  FEED_DATABASE_URL: string;
  LOW_CREDITS_THRESHOLD: string;
}

/** The most credits one grant or spend moves. */
const MAX_AMOUNT = 1_000_000_000;

/**
 * `POST /users/:id/grant` and `POST /users/:id/spend` with `{"amount": 5}` change one user's
 * credits, `GET /users/:id` shows them: questions about one user, answered by its object.
 * `GET /low-balance?below=10` lists every user with fewer than 10 credits: a question across
 * users, answered by the change feed's projection in PostgreSQL. `GET /notifications` lists the
 * `credits.low` events the queue consumer received.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/low-balance") {
      if (request.method !== "GET") return methodNotAllowed("GET");
      const param = url.searchParams.get("below") ?? env.LOW_CREDITS_THRESHOLD;
      const below = Number(param);
      if (param === "" || !Number.isSafeInteger(below)) {
        return error(
          400,
          `below must be a whole number of credits, as in ?below=10, not "${param}"`,
        );
      }
      const users = await lowBalance(env.FEED_DATABASE_URL, below);
      return Response.json({ below, users });
    }
    if (url.pathname === "/notifications") {
      if (request.method !== "GET") return methodNotAllowed("GET");
      return Response.json(await env.NOTIFICATIONS.getByName("all").list());
    }

    const match = /^\/users\/([\w.-]{1,64})(?:\/(grant|spend))?$/.exec(url.pathname);
    if (!match) {
      return error(
        404,
        "Not found: use /users/<id>[/grant|/spend] (letters, digits, . - and _), /low-balance or /notifications",
      );
    }
    const userId = match[1]!;
    const action = match[2];
    const credits = env.USER_CREDITS.getByName(userId);
    if (action === undefined) {
      if (request.method !== "GET") return methodNotAllowed("GET");
      const view = await credits.balance();
      return view === null ? error(404, noUser(userId)) : Response.json(view);
    }
    if (request.method !== "POST") return methodNotAllowed("POST");
    const body = (await request.json().catch(() => undefined)) as { amount?: unknown } | undefined;
    const amount = body?.amount;
    if (
      typeof amount !== "number" ||
      !Number.isSafeInteger(amount) ||
      amount < 1 ||
      amount > MAX_AMOUNT
    ) {
      return error(
        400,
        `Send JSON like {"amount": 5}: amount is a whole number of credits from 1 to ${MAX_AMOUNT}`,
      );
    }
    const outcome =
      action === "grant"
        ? await credits.grant(userId, amount)
        : await credits.spend(userId, amount);
    return reply(outcome);
  },

  /**
   * The LOW_CREDITS queue's consumer: records each `credits.low` event in the Notifications
   * object (where a real app would email the user). Returning acknowledges the batch; a throw
   * retries it, and Notifications keys rows by message id, so a redelivery is recorded once.
   */
  async queue(batch: MessageBatch<LowCredits>, env: Env): Promise<void> {
    const notifications = env.NOTIFICATIONS.getByName("all");
    for (const message of batch.messages) {
      console.log(
        `credits.low: user ${message.body.userId} has ${message.body.balance} credits left`,
      );
      await notifications.record(message.id, message.body);
    }
  },
} satisfies ExportedHandler<Env, LowCredits>;

function reply(outcome: Outcome): Response {
  if (outcome.ok) return Response.json(outcome.credits);
  return error(outcome.status, outcome.error);
}

function methodNotAllowed(allow: string): Response {
  return new Response(`Use ${allow}`, { status: 405, headers: { Allow: allow } });
}

function error(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}
