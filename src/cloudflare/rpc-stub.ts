import { RpcTarget } from "../core/base-classes.ts";
import { references } from "../core/rpc/stub.ts";

/**
 * Wraps an `RpcTarget` or a function in a stub explicitly, as `new RpcStub(value)` does on
 * Cloudflare: calls through it are asynchronous, with copied arguments and results, and the
 * stub can be passed over RPC by reference.
 *
 * @example
 * const stub = new RpcStub(new Counter());
 * await stub.increment();
 */
export class RpcStub {
  constructor(value: RpcTarget | ((...args: any[]) => unknown)) {
    // biome-ignore lint/correctness/noConstructorReturn: `new RpcStub(x)` is the stub, as on Cloudflare.
    if (value instanceof RpcTarget) return references.targetStub(value) as RpcStub;
    // biome-ignore lint/correctness/noConstructorReturn: as above, for a function.
    if (typeof value === "function") return references.functionStub(value) as unknown as RpcStub;
    throw new TypeError(
      "RpcStub needs an RpcTarget or a function: new RpcStub(target). To pass plain data, send it as it is.",
    );
  }
}
