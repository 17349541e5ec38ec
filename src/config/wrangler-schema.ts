import { z } from "zod";
import {
  assetsSchema,
  d1DatabaseSchema,
  kvNamespaceSchema,
  queuesSchema,
  r2BucketSchema,
  ratelimitSchema,
  serviceSchema,
  unsafeSchema,
} from "./bindings-schema.ts";
import { aliasSchema, customBuildSchema, defineSchema, moduleRuleSchema } from "./build-schema.ts";
import { cpuLimitSchema } from "./cpu-limit-schema.ts";
import { migrationSchema } from "./migration-schema.ts";

const identifier = z
  .string()
  .regex(/^[A-Za-z_$][\w$]*$/, "must be a JavaScript identifier, like CHAT_ROOM");
const className = z
  .string()
  .regex(/^[A-Za-z_$][\w$]*$/, "must be the name of an exported class, like ChatRoom");

/**
 * One `durable_objects.bindings` entry. Other keys are ignored, as wrangler only warns on them.
 */
const durableObjectBinding = z.object({
  name: identifier,
  class_name: className,
  script_name: z.string().min(1).optional(),
  environment: z.string().optional(),
});

const durableObjects = z.object({
  bindings: z.array(durableObjectBinding).optional(),
});

/** The keys Stead reads, at the top level and in each `env.<name>`. */
const workerFields = {
  name: z.string().min(1).optional(),
  main: z.string().min(1).optional(),
  compatibility_date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date like "2026-02-24"')
    .optional(),
  compatibility_flags: z.array(z.string().min(1)).optional(),
  vars: z.record(z.string(), z.unknown()).optional(),
  secrets: z
    .object({
      required: z
        .array(
          z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a variable name, like API_KEY"),
        )
        .optional(),
    })
    .optional(),
  durable_objects: durableObjects.optional(),
  assets: assetsSchema.optional(),
  kv_namespaces: z.array(kvNamespaceSchema).optional(),
  services: z.array(serviceSchema).optional(),
  r2_buckets: z.array(r2BucketSchema).optional(),
  d1_databases: z.array(d1DatabaseSchema).optional(),
  queues: queuesSchema.optional(),
  ratelimits: z.array(ratelimitSchema).optional(),
  unsafe: unsafeSchema.optional(),
  // How the app is bundled (see docs/configuration.md, "How apps are built").
  rules: z.array(moduleRuleSchema).optional(),
  define: defineSchema.optional(),
  tsconfig: z.string().min(1).optional(),
  jsx_factory: z.string().min(1).optional(),
  jsx_fragment: z.string().min(1).optional(),
  minify: z.boolean().optional(),
  keep_names: z.boolean().optional(),
  build: customBuildSchema.optional(),
  limits: z
    .object({
      cpu_ms: cpuLimitSchema.optional(),
    })
    .optional(),
  /**
   * Declarative Durable Object classes: `{ "Room": { "type": "durable-object", "storage":
   * "sqlite" } }`. Live classes (no `state`, or "created") get storage; other states are refused.
   */
  exports: z
    .record(
      className,
      z
        .object({
          type: z.literal("durable-object", {
            error: 'must be "durable-object", the only kind of export wrangler declares',
          }),
          storage: z.enum(["sqlite", "legacy-kv"]).optional(),
          state: z.string().optional(),
        })
        .loose(),
    )
    .optional(),
  migrations: z
    .array(migrationSchema)
    .superRefine((migrations, ctx) => {
      const seen = new Map<string, number>();
      migrations.forEach(({ tag }, index) => {
        const first = seen.get(tag);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [index, "tag"],
            message: `"${tag}" is also the tag of migrations[${first}]; tags must be unique`,
          });
        }
        seen.set(tag, index);
      });
    })
    .optional(),
};

/**
 * The part of a wrangler config Stead reads: `name`, `main`, `compatibility_date`,
 * `compatibility_flags`, `vars`, `durable_objects.bindings`, `assets`, `kv_namespaces`,
 * `r2_buckets`, `d1_databases`, `queues`, `services`, `ratelimits` (and the Rate Limiting
 * bindings of `unsafe.bindings`), `limits.cpu_ms`, `migrations`, the
 * build keys (`rules`, `define`, `tsconfig`, `jsx_factory`, `jsx_fragment`, `minify`,
 * `keep_names`, `build`, and `alias` at the top level only), and the same keys under `env.<name>`. Every
 * other key (routes, observability, ...) is accepted and ignored.
 */
export const wranglerConfigSchema = z.object({
  ...workerFields,
  alias: aliasSchema.optional(),
  env: z.record(z.string(), z.object(workerFields)).optional(),
});

/** A validated wrangler config (only the keys Stead reads). */
export type WranglerConfig = z.infer<typeof wranglerConfigSchema>;
/** The keys one environment (top level or `env.<name>`) may set. */
export type WranglerEnvironment = Omit<WranglerConfig, "env">;
