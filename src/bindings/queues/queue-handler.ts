import type { ExecutionContext } from "../../core/base-classes.ts";
import { type Entrypoint, isEntrypointClass } from "../../core/rpc/entrypoint-stub.ts";
import type { MessageBatch } from "./queue-batch.ts";

/** True when `entrypoint` can take a queue batch: `queue()` on its handlers or its class. */
export function hasQueueHandler(entrypoint: Entrypoint): boolean {
  if (isEntrypointClass(entrypoint)) {
    return typeof (entrypoint.prototype as { queue?: unknown }).queue === "function";
  }
  return (
    typeof entrypoint === "object" &&
    entrypoint !== null &&
    typeof (entrypoint as { queue?: unknown }).queue === "function"
  );
}

/**
 * Calls the `queue` handler of `entrypoint`: a fresh instance's `queue(batch)` for a
 * `WorkerEntrypoint` class, `queue(batch, env, ctx)` for an object of handlers.
 */
export async function callQueue(
  entrypoint: Entrypoint,
  batch: MessageBatch,
  env: object,
  ctx: ExecutionContext,
): Promise<void> {
  if (isEntrypointClass(entrypoint)) {
    const worker = new entrypoint(ctx, env) as { queue(batch: MessageBatch): unknown };
    await worker.queue(batch);
    return;
  }
  await (entrypoint as { queue(b: MessageBatch, e: object, c: ExecutionContext): unknown }).queue(
    batch,
    env,
    ctx,
  );
}
