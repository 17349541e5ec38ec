import { SteadError } from "../errors.ts";
import type { ObjectRoute } from "./namespace.ts";

/**
 * The route of a namespace binding that exists before its class does: `env.ROOMS` is in `env`
 * while the app's modules load (so `import { env } from "cloudflare:workers"` sees every
 * binding at the top level, as on Cloudflare), and starts working once the runtime has made the
 * class's namespace from the loaded module.
 */
export class DeferredRoute {
  readonly #binding: string;
  #route: ObjectRoute | undefined;

  constructor(binding: string) {
    this.#binding = binding;
  }

  /** Call once the namespace exists; every use before this throws `BINDING_NOT_READY`. */
  resolve(route: ObjectRoute): void {
    this.#route = route;
  }

  /** The route, once resolved. */
  current(): ObjectRoute {
    if (this.#route !== undefined) return this.#route;
    throw new SteadError(
      "BINDING_NOT_READY",
      `env.${this.#binding} was used while the app's modules were still loading; a Durable Object namespace works once they have loaded. Keep the reference, and make ids and stubs in a handler or the constructor instead of at the top level of a module.`,
    );
  }
}
