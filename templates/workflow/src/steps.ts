// The order's steps and the services they call. The services here are simulations (an
// inventory service, a payment provider, a carrier) so the app runs on its own; replace each
// body with a `fetch` to the real service. Every call carries an idempotency key, as payment and
// shipping APIs accept one: a call repeated after a crash (made, but its answer never recorded)
// then gets the first call's answer instead of charging or shipping twice.

export const STEP_NAMES = ["reserve", "charge", "ship"] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** What `POST /workflows/:id` starts a workflow with. */
export interface OrderInput {
  items: Array<{ sku: string; quantity: number }>;
  /** The total to charge, in cents. */
  amount: number;
  address: string;
  /** Simulation: this step's service fails, so the workflow retries it and then compensates. */
  failAt?: StepName;
  /** Simulation: with `failAt`, the service fails only its first `failTimes` attempts. */
  failTimes?: number;
}

/** What a service answered: ids the workflow keeps, to show and to compensate with. */
export type StepResult = Record<string, string | number>;

export interface ServiceCall {
  input: OrderInput;
  /** The same for every attempt of one call: a step of one workflow, or its compensation. */
  idempotencyKey: string;
  /** 1 for the first attempt. */
  attempt: number;
}

export interface Step {
  name: StepName;
  /** Does the step's work and returns the service's answer; throws if the service failed. */
  run(call: ServiceCall): Promise<StepResult>;
  /**
   * Undoes the step, given what `run` returned, after a later step failed for good. The last
   * step has none: once it succeeded the workflow is complete and nothing can fail after it.
   */
  compensate?(call: ServiceCall, result: StepResult): Promise<StepResult>;
}

/** The steps, in the order they run (and are compensated in reverse). */
export const STEPS: readonly Step[] = [
  {
    name: "reserve",
    async run(call) {
      failIfAsked("reserve", call, "inventory service unavailable");
      const units = call.input.items.reduce((sum, item) => sum + item.quantity, 0);
      return { reservationId: await idFor("rsv", call.idempotencyKey), units };
    },
    async compensate(_call, result) {
      return { released: String(result.reservationId) };
    },
  },
  {
    name: "charge",
    async run(call) {
      failIfAsked("charge", call, "payment provider timed out");
      return { chargeId: await idFor("ch", call.idempotencyKey), amount: call.input.amount };
    },
    async compensate(call, result) {
      return {
        refundId: await idFor("re", call.idempotencyKey),
        amount: Number(result.amount),
      };
    },
  },
  {
    name: "ship",
    async run(call) {
      failIfAsked("ship", call, "no carrier accepted the parcel");
      return { carrier: "Parcelo", trackingNumber: await idFor("PX", call.idempotencyKey) };
    },
  },
];

function failIfAsked(step: StepName, { input, attempt }: ServiceCall, message: string): void {
  if (input.failAt === step && attempt <= (input.failTimes ?? Number.POSITIVE_INFINITY)) {
    throw new Error(`${message} (simulated: failAt "${step}")`);
  }
}

/** An id derived from the idempotency key, as a service answering a repeated call would give. */
async function idFor(prefix: string, key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  const hex = [...new Uint8Array(digest).slice(0, 6)]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
  return `${prefix}_${hex}`;
}
