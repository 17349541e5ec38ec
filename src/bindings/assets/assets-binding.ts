import { readFromCurrent } from "../../core/gates/context.ts";
import type { AssetServer } from "./asset-server.ts";

/** What a Worker sees as its assets binding (`env.ASSETS`): a Fetcher of the assets. */
export interface AssetsBinding {
  /** What the assets answer to the request (a 404 when no asset does). */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
}

/**
 * The `assets.binding` object. A call is I/O of its caller: from a Durable Object it returns
 * through the object's input gate.
 *
 * @example
 * return env.ASSETS.fetch(request);
 */
export function assetsBinding(server: AssetServer): AssetsBinding {
  return {
    fetch(input, init) {
      return readFromCurrent(async () => {
        const request =
          input instanceof Request && init === undefined ? input : new Request(input, init);
        return server.fetch(request);
      });
    },
  };
}
