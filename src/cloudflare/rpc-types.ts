/**
 * Names `cloudflare:workers` exports for the types of RPC values, so code that imports them
 * (for `instanceof` checks or type positions) loads. As in workerd they cannot be constructed.
 * Stead's stubs return ordinary promises, so nothing is an instance of `RpcPromise` or
 * `RpcProperty`; see docs/compatibility.md#cloudflare-modules.
 */
function illegalConstructor(name: string): new () => object {
  const cls = class {
    constructor() {
      throw new TypeError("Illegal constructor");
    }
  };
  Object.defineProperty(cls, "name", { value: name });
  return cls;
}

/** The promise an RPC call returns on workerd (pipelining). */
export const RpcPromise = illegalConstructor("RpcPromise");
/** A property read through a stub on workerd. */
export const RpcProperty = illegalConstructor("RpcProperty");
/** The stub of a service binding on workerd. */
export const ServiceStub = illegalConstructor("ServiceStub");
