/**
 * The Cache API (`caches.default`, `caches.open(name)`) as Cloudflare runs it where no cache
 * zone is in front of the Worker (a workers.dev route): every call is accepted and checked, and
 * nothing is kept, so `match()` always misses. Code that caches with it runs unchanged and
 * simply always takes the miss path; a single host has no shared edge cache to fill.
 */
export class Cache {
  async match(request: RequestInfo | URL, _options?: { ignoreMethod?: boolean }) {
    requestOf(request);
    return undefined;
  }

  async put(request: RequestInfo | URL, response: Response): Promise<void> {
    const key = requestOf(request);
    if (key.method !== "GET") throw new TypeError("Cannot cache response to non-GET request.");
    if (!(response instanceof Response)) {
      throw new TypeError("Cache.put() requires a Response as its second argument.");
    }
    if (response.status === 206) {
      throw new TypeError("Cannot cache response to a range request (206 Partial Content).");
    }
    if (response.headers.get("vary")?.includes("*")) {
      throw new TypeError("Cannot cache response with 'Vary: *' header.");
    }
    if (response.bodyUsed) throw new TypeError("Response body is already used");
    await response.body?.cancel();
  }

  async delete(request: RequestInfo | URL, _options?: { ignoreMethod?: boolean }) {
    requestOf(request);
    return false;
  }
}

/** `caches`: the default cache and named ones, all behaving as described on `Cache`. */
export class CacheStorage {
  readonly default = new Cache();

  async open(name: string): Promise<Cache> {
    if (typeof name !== "string") throw new TypeError("Cache name must be a string.");
    return new Cache();
  }
}

function requestOf(input: RequestInfo | URL): Request {
  return input instanceof Request ? input : new Request(input);
}
