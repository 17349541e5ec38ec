import type { Account, Outcome } from "./account";

export { Account } from "./account";

export interface Env {
  ACCOUNTS: DurableObjectNamespace<Account>;
  TRIAL_DAYS: string;
}

/**
 * `POST /accounts/:id/trial` starts a trial, `POST /accounts/:id/extend` with `{"days": 7}`
 * extends it, `POST /accounts/:id/upgrade` moves to the paid plan, `GET /accounts/:id` shows it.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const match = /^\/accounts\/([\w-]{1,64})(?:\/(trial|extend|upgrade))?$/.exec(
      new URL(request.url).pathname,
    );
    if (!match) return error(404, "Not found: use /accounts/<id> (letters, digits, - and _)");
    const id = match[1]!;
    const action = match[2];
    const account = env.ACCOUNTS.getByName(id);

    if (action === undefined) {
      if (request.method !== "GET") return methodNotAllowed("GET");
      const view = await account.account();
      return view === null ? notFound(id) : Response.json(view);
    }
    if (request.method !== "POST") return methodNotAllowed("POST");
    if (action === "trial") return reply(id, await account.startTrial(id), 201);
    if (action === "upgrade") return reply(id, await account.upgrade());

    const body = (await request.json().catch(() => undefined)) as { days?: unknown } | undefined;
    const days = body?.days;
    if (typeof days !== "number" || !(days > 0 && days <= 365)) {
      return error(400, 'Send JSON like {"days": 7}: days is a number above 0, at most 365');
    }
    return reply(id, await account.extendTrial(days));
  },
} satisfies ExportedHandler<Env>;

function reply(id: string, outcome: Outcome, status = 200): Response {
  if (outcome.ok) return Response.json(outcome.account, { status });
  return outcome.status === 404 ? notFound(id) : error(outcome.status, outcome.error);
}

function notFound(id: string): Response {
  return error(404, `No account ${id}: start its trial with POST /accounts/${id}/trial`);
}

function methodNotAllowed(allow: string): Response {
  return new Response(`Use ${allow}`, { status: 405, headers: { Allow: allow } });
}

function error(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}
