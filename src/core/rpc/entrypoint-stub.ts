import { type ExecutionContext, WorkerEntrypoint } from "../base-classes.ts";
import { SteadError } from "../errors.ts";
import { cloneForRpc } from "./serialize.ts";
import { callMember, type Invoke, makeStub, references, remoteError } from "./stub.ts";

/** A Worker entrypoint: a class extending `WorkerEntrypoint`, or an object of handlers. */
export type Entrypoint = unknown;

/** True for what `ctx.exports` offers as a service binding: a `WorkerEntrypoint` class. */
export function isEntrypointClass(
  value: unknown,
): value is new (
  ctx: ExecutionContext,
  env: unknown,
) => object {
  return typeof value === "function" && value.prototype instanceof WorkerEntrypoint;
}

/**
 * Calls the `fetch` handler of `entrypoint`: a fresh instance's `fetch(request)` for a
 * `WorkerEntrypoint` class, `fetch(request, env, ctx)` for an object of handlers.
 */
export function callFetch(
  entrypoint: Entrypoint,
  request: Request,
  env: object,
  ctx: ExecutionContext,
): Promise<Response> {
  if (isEntrypointClass(entrypoint)) {
    const worker = new entrypoint(ctx, env) as { fetch?: (request: Request) => Promise<Response> };
    if (typeof worker.fetch !== "function") throw missingFetch();
    return worker.fetch(request);
  }
  const handlers = entrypoint as { fetch?: unknown } | null;
  if (handlers === null || typeof handlers !== "object" || typeof handlers.fetch !== "function") {
    throw missingFetch();
  }
  return (handlers.fetch as (r: Request, e: object, c: ExecutionContext) => Promise<Response>)(
    request,
    env,
    ctx,
  );
}

/**
 * A service binding to an entrypoint of this same Worker (`ctx.exports.Greeter`): `fetch()` and
 * RPC calls each run on a new instance with a new `ctx`, as calls through a service binding do
 * on Cloudflare. Arguments and results are copied as RPC copies them.
 */
export function entrypointStub(
  entrypoint: Entrypoint,
  env: object,
  newContext: () => ExecutionContext,
): any {
  const invoke: Invoke = async (member, args) => {
    if (!isEntrypointClass(entrypoint)) {
      throw new TypeError(`The RPC receiver does not implement the method "${member}".`);
    }
    const cloned = args === undefined ? undefined : (cloneForRpc(args, references) as unknown[]);
    try {
      const instance = new entrypoint(newContext(), env);
      return cloneForRpc(await callMember(instance, member, cloned), references);
    } catch (error) {
      throw remoteError(error);
    }
  };
  return makeStub(invoke, {
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      const request =
        input instanceof Request && init === undefined ? input : new Request(input, init);
      return callFetch(entrypoint, request, env, newContext());
    },
  });
}

function missingFetch(): SteadError {
  return new SteadError(
    "HANDLER_MISSING",
    "The entry module has no fetch handler: export default { fetch(request, env, ctx) { ... } } or a class extending WorkerEntrypoint with a fetch() method.",
  );
}
