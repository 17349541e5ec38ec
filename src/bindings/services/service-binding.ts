import type { ExecutionContext } from "../../core/base-classes.ts";
import { type Entrypoint, entrypointStub } from "../../core/rpc/entrypoint-stub.ts";
import { makeStub } from "../../core/rpc/stub.ts";

/** One `services` entry: a binding to an entrypoint of this Worker. */
export interface ServiceBindingOptions {
  readonly binding: string;
  /** The Worker it names: this one (Stead runs one Worker). Accepted, not used. */
  readonly service?: string;
  /** The exported entrypoint's name; default: the default export. */
  readonly entrypoint?: string;
  /** What the entrypoint sees as `ctx.props` (a JSON-like value, copied for every call). */
  readonly props?: unknown;
}

/** What a service binding reaches once the Worker's module is loaded. */
export interface ServiceTarget {
  readonly entrypoint: Entrypoint;
  readonly env: object;
  /** A fresh `ctx` for one call, with these `props`. */
  newContext(props: unknown): ExecutionContext;
}

/**
 * A service binding (`env.GREETER`) to an entrypoint of this same Worker, as Cloudflare makes
 * one from `services: [{ binding, service, entrypoint, props }]`: `fetch()` and RPC calls each
 * run on a new instance of the entrypoint whose `ctx.props` is a copy of `props`. The binding
 * exists before the module is loaded (top-level code may hold it); calls need `target()`, which
 * is set once the module's exports are known.
 *
 * @example
 * const greeting = await env.GREETER.greet("Ada"); // runs Greeter#greet with ctx.props
 */
export function serviceBinding(options: ServiceBindingOptions, target: () => ServiceTarget): any {
  let stub: any;
  const resolved = () => {
    if (stub === undefined) {
      const { entrypoint, env, newContext } = target();
      stub = entrypointStub(entrypoint, env, () => newContext(copyProps(options.props)));
    }
    return stub;
  };
  return makeStub(
    // A member read returns an awaitable call; resolving the promise with it reads it over RPC.
    async (member, args) =>
      args === undefined ? await resolved()[member] : await resolved()[member](...args),
    {
      fetch: (input: RequestInfo | URL, init?: RequestInit) => resolved().fetch(input, init),
    },
  );
}

function copyProps(props: unknown): unknown {
  return props === undefined ? {} : structuredClone(props);
}
