import type { OrderWorkflow } from "./order-workflow";
import { type OrderInput, STEP_NAMES, type StepName } from "./steps";

export { OrderWorkflow } from "./order-workflow";

export interface Env {
  WORKFLOWS: DurableObjectNamespace<OrderWorkflow>;
  STEP_DELAY_SECONDS: string;
  RETRY_DELAY_SECONDS: string;
  MAX_ATTEMPTS: string;
}

const EXAMPLE =
  '{"items": [{"sku": "tea", "quantity": 2}], "amount": 1200, "address": "1 Main St", "failAt": "ship"}';

/** `POST /workflows/:id` starts one order's workflow; `GET /workflows/:id` shows it. */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const match = /^\/workflows\/([\w-]{1,64})$/.exec(new URL(request.url).pathname);
    if (!match) return error(404, "Not found: use /workflows/<id> (letters, digits, - and _)");
    const id = match[1]!;
    const workflow = env.WORKFLOWS.getByName(id);

    if (request.method === "GET") {
      const view = await workflow.status();
      if (view === null)
        return error(404, `No workflow ${id}: start it with POST /workflows/${id}`);
      return Response.json(view);
    }
    if (request.method !== "POST") {
      return new Response("Use GET or POST", { status: 405, headers: { Allow: "GET, POST" } });
    }
    const body = await request.json().catch(() => undefined);
    const input = parseOrder(body);
    if (typeof input === "string") return error(400, `${input}. Send JSON like ${EXAMPLE}`);
    const outcome = await workflow.start(id, input);
    if (!outcome.ok) return error(409, outcome.error);
    return Response.json(outcome.workflow, { status: 201 });
  },
} satisfies ExportedHandler<Env>;

function error(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}

const FIELDS = ["items", "amount", "address", "failAt", "failTimes"];

/** The order in `body`, or what is wrong with it. */
function parseOrder(body: unknown): OrderInput | string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return "The body must be a JSON object";
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !FIELDS.includes(key));
  if (unknown !== undefined) {
    return `Unknown field "${unknown}" (the fields are ${FIELDS.join(", ")})`;
  }
  const { items, amount, address, failAt, failTimes } = fields;
  if (!Array.isArray(items) || items.length === 0 || items.length > 100) {
    return "items must be a list of 1 to 100 {sku, quantity}";
  }
  for (const [index, item] of items.entries()) {
    const { sku, quantity } = (item ?? {}) as Record<string, unknown>;
    if (typeof sku !== "string" || sku === "" || sku.length > 64) {
      return `items[${index}].sku must be a text of 1 to 64 characters`;
    }
    if (!Number.isInteger(quantity) || (quantity as number) < 1 || (quantity as number) > 1000) {
      return `items[${index}].quantity must be a whole number from 1 to 1000`;
    }
  }
  if (!Number.isInteger(amount) || (amount as number) < 1) {
    return "amount must be the total in cents, a whole number above 0";
  }
  if (typeof address !== "string" || address.trim() === "" || address.length > 200) {
    return "address must be a text of 1 to 200 characters";
  }
  if (failAt !== undefined && !STEP_NAMES.includes(failAt as StepName)) {
    return `failAt must be one of ${STEP_NAMES.join(", ")}`;
  }
  if (
    failTimes !== undefined &&
    (failAt === undefined || !Number.isInteger(failTimes) || (failTimes as number) < 1)
  ) {
    return "failTimes must be a whole number above 0, given with failAt";
  }
  return {
    items: items.map(({ sku, quantity }) => ({ sku, quantity })),
    amount: amount as number,
    address,
    ...(failAt === undefined ? {} : { failAt: failAt as StepName }),
    ...(failTimes === undefined ? {} : { failTimes: failTimes as number }),
  };
}
