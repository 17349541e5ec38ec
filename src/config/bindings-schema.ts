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
      .string({ error: 'is required: the folder of static files, like "./public"' })
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
