import type { DurableObjectState } from "./object/object-state.ts";

/** Runtime hooks a Worker gets as its third argument (`ctx`). */
export interface ExecutionContext {
  /** Keeps the request's work alive until `promise` settles. */
  waitUntil(promise: Promise<unknown>): void;
  /** Accepted for compatibility; Stead has no origin to fall back to. */
  passThroughOnException(): void;
  readonly props: unknown;
  /**
   * Loopback bindings to the Worker's own top-level exports: a service binding per
   * `WorkerEntrypoint` class, a namespace per Durable Object class that has storage.
   */
  readonly exports: Record<string, any>;
}

/**
 * Base class of a Durable Object. Stead constructs it on the object's first event, with its
 * state (`ctx`) and bindings (`env`); every public method is callable through a stub.
 *
 * @example
 * export class Counter extends DurableObject {
 *   async increment() {
 *     const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + 1;
 *     await this.ctx.storage.put("n", n);
 *     return n;
 *   }
 * }
 */
export abstract class DurableObject<Env = unknown> {
  protected ctx: DurableObjectState;
  protected env: Env;

  constructor(ctx: DurableObjectState, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }
}

/**
 * Base class of a Worker written as a class: `export default class extends WorkerEntrypoint`.
 *
 * @example
 * export default class extends WorkerEntrypoint<Env> {
 *   fetch(request: Request) { return new Response("hi"); }
 * }
 */
export abstract class WorkerEntrypoint<Env = unknown> {
  protected ctx: ExecutionContext;
  protected env: Env;

  constructor(ctx: ExecutionContext, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }
}

/**
 * Extend this to pass an object by reference over RPC: the receiver gets a stub whose method
 * calls run here.
 *
 * @example
 * class Session extends RpcTarget { ping() { return "pong"; } }
 */
export class RpcTarget {}
