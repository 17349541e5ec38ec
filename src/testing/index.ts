/**
 * Test helpers with the meanings they have in Cloudflare's Vitest pool (`cloudflare:test`).
 *
 * @example
 * import { runInDurableObject } from "stead/testing";
 * const stored = await runInDurableObject(stub, (instance, ctx) => ctx.storage.get("count"));
 */

import type { AlarmOutcome } from "../core/alarms/run-alarm.ts";
// For the types: Response.webSocket and the other Workers additions to the globals, which tests
// of WebSocket apps use.
import "../core/websocket/globals.ts";
import type { DurableObjectId } from "../core/ids/object-id.ts";
import {
  CONTROLLER,
  type DurableObjectNamespace,
  type DurableObjectStub,
  NamespaceController,
  type ObjectRoute,
  STUB_TARGET,
} from "../core/object/namespace.ts";
import type { DurableObjectState } from "../core/object/object-state.ts";

export {
  applyD1Migrations,
  type D1Migration,
  readD1Migrations,
} from "../bindings/d1/index.ts";
export { ManualClock } from "../core/clock.ts";

function targetOf(stub: DurableObjectStub) {
  const target = (stub as any)?.[STUB_TARGET];
  if (target === undefined) {
    throw new TypeError("Expected a Durable Object stub from namespace.get() or getByName().");
  }
  const { controller, id } = target as { controller: ObjectRoute; id: DurableObjectId };
  return { controller: local(controller), id };
}

/** The helpers reach into the object itself, so it must live on this thread. */
function local(route: ObjectRoute): NamespaceController {
  if (route instanceof NamespaceController) return route;
  throw new TypeError(
    "stead/testing helpers need the objects on the caller's thread, but this runtime runs them on object threads. Create the runtime with threads: 0 (the default of createRuntime) to use them.",
  );
}

/**
 * Runs `callback` inside the object, as one of its events, with direct access to the instance
 * and its `ctx` (to seed or inspect storage). The result is not cloned.
 */
export async function runInDurableObject<O = any, R = unknown>(
  stub: DurableObjectStub,
  callback: (instance: O, state: DurableObjectState) => R | Promise<R>,
): Promise<R> {
  const { controller, id } = targetOf(stub);
  return (await controller.deliver(id, { kind: "run", fn: callback })) as R;
}

/**
 * Runs the object's scheduled alarm now, whether or not it is due, and removes it. Resolves to
 * whether an alarm was scheduled; rejects with the handler's error if it threw.
 */
export async function runDurableObjectAlarm(stub: DurableObjectStub): Promise<boolean> {
  const { controller, id } = targetOf(stub);
  const key = id.toString();
  const record = controller.driver.alarms.get(controller.namespace, key) ?? {
    namespace: controller.namespace,
    id: key,
    name: id.name,
    time: 0,
    scheduledTime: 0,
    retryCount: 0,
  };
  const outcome = (await controller.deliver(id, {
    kind: "alarm",
    record,
    force: true,
  })) as AlarmOutcome;
  if (outcome.kind === "failed") throw outcome.error;
  return outcome.kind === "ran";
}

/** The ids of every object of `namespace` that has stored data. */
export async function listDurableObjectIds(
  namespace: DurableObjectNamespace,
): Promise<DurableObjectId[]> {
  const controller = local(namespace[CONTROLLER]);
  const ids = await controller.driver.listObjects(controller.namespace);
  return ids.map((hex) => controller.ids.fromString(hex));
}

/** What `kvEntries` needs of a KV namespace binding (`env.MY_KV`). */
interface KvNamespaceLike {
  list(options?: { cursor?: string | null }): Promise<{
    keys: { name: string; expiration?: number }[];
    list_complete: boolean;
    cursor?: string;
  }>;
  getWithMetadata(key: string): Promise<{ value: string | null; metadata: unknown }>;
}

/** One entry of a KV namespace, as `kvEntries` returns it. */
export interface KvEntrySnapshot {
  value: string;
  metadata: unknown;
  /** Seconds since the epoch, when the entry expires. */
  expiration?: number;
}

/**
 * Every live entry of a KV namespace binding (`runtime.env.MY_KV`), by key in list order, values
 * as text: to check what an app stored. Seed a namespace with its own `put`.
 *
 * @example
 * await rt.fetch("http://app/login", { method: "POST" });
 * assert.deepEqual([...(await kvEntries(rt.env.SESSIONS)).keys()], ["session:1"]);
 */
export async function kvEntries(namespace: KvNamespaceLike): Promise<Map<string, KvEntrySnapshot>> {
  const entries = new Map<string, KvEntrySnapshot>();
  let cursor: string | undefined;
  do {
    const page = await namespace.list(cursor === undefined ? {} : { cursor });
    for (const key of page.keys) {
      const { value, metadata } = await namespace.getWithMetadata(key.name);
      if (value === null) continue;
      entries.set(key.name, {
        value,
        metadata,
        ...(key.expiration === undefined ? {} : { expiration: key.expiration }),
      });
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor !== undefined);
  return entries;
}

/** What `r2Objects` needs of an R2 bucket binding (`env.MY_BUCKET`). */
interface R2BucketLike {
  list(options?: { cursor?: string; include?: ("httpMetadata" | "customMetadata")[] }): Promise<{
    objects: {
      key: string;
      size: number;
      etag: string;
      httpMetadata?: object | undefined;
      customMetadata?: Record<string, string> | undefined;
    }[];
    truncated: boolean;
    cursor?: string;
  }>;
}

/** One object of a bucket, as `r2Objects` returns it (its bytes: `bucket.get(key)`). */
export interface R2ObjectSnapshot {
  size: number;
  etag: string;
  httpMetadata: Record<string, unknown>;
  customMetadata: Record<string, string>;
}

/**
 * Every object of an R2 bucket binding (`runtime.env.MY_BUCKET`), by key in list order, with
 * its size, etag and metadata: to check what an app stored. Seed a bucket with its own `put`.
 *
 * @example
 * await rt.fetch("http://app/avatar", { method: "PUT", body: png });
 * assert.deepEqual([...(await r2Objects(rt.env.UPLOADS)).keys()], ["avatars/1.png"]);
 */
export async function r2Objects(bucket: R2BucketLike): Promise<Map<string, R2ObjectSnapshot>> {
  const objects = new Map<string, R2ObjectSnapshot>();
  let cursor: string | undefined;
  do {
    const page = await bucket.list({
      include: ["httpMetadata", "customMetadata"],
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const object of page.objects) {
      objects.set(object.key, {
        size: object.size,
        etag: object.etag,
        httpMetadata: { ...object.httpMetadata },
        customMetadata: { ...object.customMetadata },
      });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return objects;
}
