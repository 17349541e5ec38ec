import { z } from "zod";

const bindingName = z
  .string()
  .regex(/^[A-Za-z_$][\w$]*$/, "must be a JavaScript identifier, like ASSETS");

/** A `run_worker_first` route pattern, as wrangler checks it. */
const routePattern = z
  .string()
  .max(100, "must be at most 100 characters")
  .regex(/^!?\//, 'must be a path pattern starting with "/" (or "!/" to exclude), like "/api/*"');

/**
 * The `assets` key (https://developers.cloudflare.com/workers/static-assets/binding/). Other keys
 * under it are accepted and ignored, as wrangler only warns on them.
 */
export const assetsSchema = z
  .object({
    directory: z
      .string({
        error:
          'is required: the folder of static files, like "./public" (with the Cloudflare Vite plugin, the config its build generates names it: run the build first)',
      })
      .min(1),
    binding: bindingName.optional(),
    not_found_handling: z
      .enum(["single-page-application", "404-page", "none"], {
        error: 'must be "single-page-application", "404-page" or "none"',
      })
      .optional(),
    html_handling: z
      .enum(["auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none"], {
        error:
          'must be "auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash" or "none"',
      })
      .optional(),
    run_worker_first: z
      .union([z.boolean(), z.array(routePattern).max(100, "must hold at most 100 patterns")], {
        error: 'must be true, false, or a list of route patterns like ["/api/*"]',
      })
      .optional(),
  })
  .loose();

/**
 * One `services` entry. `service` names a Worker; `entrypoint` an export of it; `props` are
 * what the entrypoint sees as `ctx.props`. `remote` is accepted and ignored.
 */
export const serviceSchema = z
  .object({
    binding: bindingName,
    service: z.string().min(1).optional(),
    entrypoint: z
      .string()
      .regex(/^[A-Za-z_$][\w$]*$/, "must be the name of an export, like Greeter")
      .optional(),
    props: z
      .record(z.string(), z.unknown(), { error: 'must be an object, like { "tenant": "a" }' })
      .optional(),
  })
  .loose();

/**
 * One `r2_buckets` entry. `bucket_name` names the bucket (default: the binding name);
 * `preview_bucket_name`, `jurisdiction` and `remote` are accepted and ignored.
 */
export const r2BucketSchema = z
  .object({
    binding: bindingName,
    bucket_name: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
        "must be 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit, like my-bucket",
      )
      .optional(),
  })
  .loose();

/**
 * One `d1_databases` entry. The database is named by `database_id`, else `database_name`, else
 * the binding name; `migrations_dir` (default "migrations", beside the config) holds wrangler's
 * numbered `.sql` files, recorded as applied in `migrations_table` (default "d1_migrations").
 * `preview_database_id` and `remote` are accepted and ignored.
 */
export const d1DatabaseSchema = z
  .object({
    binding: bindingName,
    database_name: z.string().min(1).optional(),
    database_id: z.string().min(1).optional(),
    migrations_dir: z.string().min(1).optional(),
    migrations_table: z
      .string()
      .regex(
        /^[A-Za-z_][\w]*$/,
        "must be an SQL table name of letters, digits and _, like d1_migrations",
      )
      .refine((name) => !/^(_cf_|sqlite_)/i.test(name), "must not start with _cf_ or sqlite_")
      .optional(),
  })
  .loose();

/** One `kv_namespaces` entry. `preview_id` and `remote` are accepted and ignored. */
export const kvNamespaceSchema = z
  .object({
    binding: bindingName,
    id: z.string().min(1).optional(),
  })
  .loose();

const queueName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,62}$/,
    "must be a queue name of 1-63 lowercase letters, digits and hyphens, like my-queue",
  );

/** Whole seconds from 0 to 12 hours, as Queues' delays are. */
const delaySeconds = z
  .number({ error: "must be a number of seconds, like 30" })
  .int({ error: "must be a whole number of seconds, like 30" })
  .min(0, { error: "must be 0 or more seconds" })
  .max(43_200, { error: "must be at most 43200 seconds (12 hours)" });

function wholeNumber(min: number, max: number, example: string) {
  const error = `must be a whole number from ${min} to ${max}, like ${example}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

const producerShape = {
  queue: queueName,
  binding: bindingName,
  delivery_delay: delaySeconds.optional(),
};

const consumerShape = {
  queue: queueName,
  max_batch_size: wholeNumber(1, 100, "10").optional(),
  max_batch_timeout: z
    .number({ error: "must be a number of seconds from 0 to 60, like 5" })
    .min(0, { error: "must be a number of seconds from 0 to 60, like 5" })
    .max(60, { error: "must be a number of seconds from 0 to 60, like 5" })
    .optional(),
  max_retries: wholeNumber(0, 100, "3").optional(),
  dead_letter_queue: queueName.optional(),
  retry_delay: delaySeconds.optional(),
  max_concurrency: wholeNumber(1, 250, "10").optional(),
  type: z
    .literal("worker", {
      error:
        'must be "worker": Stead delivers to the Worker\'s queue() handler and has no HTTP pull consumers',
    })
    .optional(),
};

/** Checks that go across entries: one consumer per queue, no queue its own dead-letter queue. */
function checkConsumers(
  consumers: readonly { queue: string; dead_letter_queue?: string | undefined }[] | undefined,
  ctx: z.RefinementCtx,
): void {
  const seen = new Map<string, number>();
  (consumers ?? []).forEach(({ queue, dead_letter_queue }, index) => {
    const first = seen.get(queue);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["consumers", index, "queue"],
        message: `queue "${queue}" already has a consumer (consumers[${first}]); a queue has one consumer`,
      });
    }
    seen.set(queue, index);
    if (dead_letter_queue === queue) {
      ctx.addIssue({
        code: "custom",
        path: ["consumers", index, "dead_letter_queue"],
        message: "must name another queue than the one consumed",
      });
    }
  });
}

/**
 * The `queues` key (https://developers.cloudflare.com/queues/configuration/configure-queues/):
 * `producers` (`queue`, `binding`, `delivery_delay`) and `consumers` (`queue`, `max_batch_size`,
 * `max_batch_timeout`, `max_retries`, `dead_letter_queue`, `retry_delay`, `max_concurrency`).
 * Other keys are accepted and ignored, as wrangler only warns on them.
 */
export const queuesSchema = z
  .object({
    producers: z.array(z.object(producerShape).loose()).optional(),
    consumers: z.array(z.object(consumerShape).loose()).optional(),
  })
  .loose()
  .superRefine((queues, ctx) => checkConsumers(queues.consumers, ctx));

/** `createRuntime()`'s `queues` option: the same keys, and no others. */
export const queuesOptionSchema = z
  .object({
    producers: z.array(z.object(producerShape).strict()).optional(),
    consumers: z.array(z.object(consumerShape).strict()).optional(),
  })
  .strict()
  .superRefine((queues, ctx) => checkConsumers(queues.consumers, ctx));

const namespaceId = 'must be a whole number as a string, like "1001"';
const positiveLimit = "must be a positive whole number of calls per period, like 100";

const ratelimitFields = {
  name: bindingName,
  namespace_id: z
    .union([z.string(), z.number()], {
      error: (issue) =>
        issue.input === undefined
          ? `is required: the counters' id, ${namespaceId.slice("must be ".length)}`
          : `${namespaceId}; got ${JSON.stringify(issue.input)}`,
    })
    .refine(
      (id) => (typeof id === "string" ? /^\d+$/.test(id) : Number.isSafeInteger(id) && id >= 0),
      { error: (issue) => `${namespaceId}; got ${JSON.stringify(issue.input)}` },
    ),
};

const simpleShape = {
  limit: z
    .number({ error: positiveLimit })
    .refine((limit) => Number.isSafeInteger(limit) && limit > 0, {
      error: (issue) => `${positiveLimit}; got ${issue.input}`,
    }),
  period: z.union([z.literal(10), z.literal(60)], {
    error: (issue) =>
      `must be 10 or 60 (seconds), the periods Cloudflare allows; got ${JSON.stringify(issue.input)}`,
  }),
};

/**
 * One `ratelimits` entry (https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/):
 * `name`, `namespace_id` and `simple` (`limit`, `period`). Other keys are accepted and ignored.
 */
export const ratelimitSchema = z
  .object({ ...ratelimitFields, simple: z.object(simpleShape).loose() })
  .loose();

/** `createRuntime()`'s `ratelimits` entries: the same keys, and no others. */
export const ratelimitOptionSchema = z
  .object({ ...ratelimitFields, simple: z.object(simpleShape).strict() })
  .strict();

/** An entry of `unsafe.bindings` that is a Rate Limiting binding (the form before `ratelimits`). */
export function isUnsafeRatelimit(entry: unknown): boolean {
  return (
    typeof entry === "object" &&
    entry !== null &&
    (entry as { type?: unknown }).type === "ratelimit"
  );
}

/**
 * The `unsafe` key: its `bindings` of `type` "ratelimit" are checked as `ratelimits` entries
 * (`unsafeRatelimits` reads them); other bindings and keys are accepted and ignored (a startup
 * warning names them).
 */
export const unsafeSchema = z
  .object({
    bindings: z
      .array(z.unknown())
      .superRefine((entries, ctx) => {
        entries.forEach((entry, index) => {
          if (!isUnsafeRatelimit(entry)) return;
          const result = ratelimitSchema.safeParse(entry, { reportInput: true });
          for (const issue of result.error?.issues ?? []) {
            ctx.addIssue({ ...issue, path: [index, ...issue.path] } as never);
          }
        });
      })
      .optional(),
  })
  .loose();

/** The Rate Limiting bindings of `unsafe.bindings` (already checked by `unsafeSchema`). */
export function unsafeRatelimits(
  unsafe: z.infer<typeof unsafeSchema> | undefined,
): z.infer<typeof ratelimitSchema>[] {
  return (unsafe?.bindings ?? [])
    .filter(isUnsafeRatelimit)
    .map((entry) => ratelimitSchema.parse(entry));
}
