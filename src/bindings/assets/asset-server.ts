import { AssetFiles } from "./asset-files.ts";
import { type IntentRules, resolveIntent } from "./asset-intent.ts";
import type { ResolvedAssets } from "./asset-options.ts";
import { assetResponse } from "./asset-response.ts";
import { ConfigFiles } from "./config-files.ts";
import type { ParsedHeaders } from "./headers-file.ts";
import { findRedirect } from "./redirects-file.ts";
import { compileRoutePattern, fillPlaceholders, matchRule } from "./rule-pattern.ts";

/** No asset answers the request: the Worker should. */
const NO_ASSET = Symbol("no asset");

const REDIRECT_TEXT: Record<number, string> = {
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
};

/**
 * Serves an app's static assets as Cloudflare's asset server does: `_redirects` first, then the
 * file the path resolves to under html_handling and not_found_handling (`asset-intent.ts`), with
 * `_headers` rules applied to whatever the assets answer. `route` decides, as Cloudflare's router
 * does, whether a request goes to the assets or to the Worker.
 */
export class AssetServer {
  readonly #config: ResolvedAssets;
  readonly #files: AssetFiles;
  readonly #configFiles: ConfigFiles;
  /** `run_worker_first` patterns: those for the Worker, and the `!` ones for the assets. */
  readonly #workerRoutes: readonly RegExp[];
  readonly #assetRoutes: readonly RegExp[];

  constructor(config: ResolvedAssets, warn: (message: string) => void) {
    this.#config = config;
    this.#files = new AssetFiles(config.directory);
    this.#configFiles = new ConfigFiles(config.directory, config.htmlHandling !== "none", warn);
    const rules = Array.isArray(config.runWorkerFirst) ? config.runWorkerFirst : [];
    this.#workerRoutes = rules.filter((r) => !r.startsWith("!")).map(compileRoutePattern);
    this.#assetRoutes = rules
      .filter((r) => r.startsWith("!"))
      .map((r) => compileRoutePattern(r.slice(1)));
  }

  /** What the assets answer to `request`: `env.ASSETS.fetch`. A path with no asset gets a 404. */
  async fetch(request: Request): Promise<Response> {
    const answer = await this.#answer(request, this.#config.notFoundHandling);
    return answer === NO_ASSET ? notFound() : answer;
  }

  /**
   * Serves `request` from the assets when an asset answers it, and calls `worker` otherwise, as
   * Cloudflare routes a Worker with assets: `run_worker_first: true` sends everything to the
   * Worker; its patterns send matching paths to the Worker (`!` patterns to the assets); the
   * rest goes to the assets when a `_redirects` rule or a file answers the path. A path no file
   * answers gets the not-found handling (SPA index, 404 page) only for navigation requests
   * (`Sec-Fetch-Mode: navigate`, from compatibility date 2025-04-01) or with route patterns;
   * other requests for it reach the Worker.
   */
  async route(request: Request, worker: () => Promise<Response>): Promise<Response> {
    const runWorkerFirst = this.#config.runWorkerFirst;
    if (runWorkerFirst === true) return worker();
    const patterns = Array.isArray(runWorkerFirst);
    if (patterns) {
      const { pathname } = new URL(request.url);
      if (this.#assetRoutes.some((route) => route.test(pathname))) return this.fetch(request);
      if (this.#workerRoutes.some((route) => route.test(pathname))) return worker();
    }
    const navigation =
      this.#config.navigationPrefersAssets && request.headers.get("Sec-Fetch-Mode") === "navigate";
    const answer = await this.#answer(
      request,
      patterns || navigation ? this.#config.notFoundHandling : "none",
    );
    return answer === NO_ASSET ? worker() : answer;
  }

  async #answer(
    request: Request,
    notFoundHandling: IntentRules["notFoundHandling"],
  ): Promise<Response | typeof NO_ASSET> {
    const url = new URL(request.url);
    let pathname = url.pathname;
    let rewritten = false;
    const redirect = findRedirect(await this.#configFiles.redirects(), url);
    if (redirect !== undefined) {
      if (redirect.status !== 200) {
        return this.#withHeaders(url, redirectResponse(redirect.status, redirect.to, url));
      }
      // A 200 rule serves another path in place: the address bar keeps the request's URL.
      pathname = new URL(redirect.to, url).pathname;
      rewritten = true;
    }
    const decoded = decodePath(pathname);
    const intent = await resolveIntent(
      decoded,
      { htmlHandling: this.#config.htmlHandling, notFoundHandling },
      (path) => this.#files.find(path),
    );
    if (intent === null) return rewritten ? this.#withHeaders(url, notFound()) : NO_ASSET;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return this.#withHeaders(
        url,
        new Response(null, { status: 405, statusText: "Method Not Allowed" }),
      );
    }
    const destination = "redirect" in intent ? intent.redirect : decoded;
    const encoded = encodePath(destination);
    // The canonical path of an asset is its decoded path encoded again: other spellings redirect.
    if ("redirect" in intent || encoded !== pathname) {
      return this.#withHeaders(url, redirectResponse(307, encoded + url.search, url));
    }
    return this.#withHeaders(
      url,
      await assetResponse(request, intent.serve, intent.status, this.#files),
    );
  }

  /** Applies the `_headers` rules matching the request's URL, in file order. */
  async #withHeaders(url: URL, response: Response): Promise<Response> {
    const parsed: ParsedHeaders = await this.#configFiles.headers();
    if (parsed.rules.length === 0) return response;
    const set = new Set<string>();
    for (const rule of parsed.rules) {
      const captured = matchRule(rule.pattern, url);
      if (captured === undefined) continue;
      for (const name of rule.unset) response.headers.delete(name);
      for (const [name, value] of Object.entries(rule.set)) {
        const filled = fillPlaceholders(value, captured);
        // Values of several matching rules add up; what the asset server set is replaced.
        if (set.has(name)) response.headers.append(name, filled);
        else {
          response.headers.set(name, filled);
          set.add(name);
        }
      }
    }
    return response;
  }
}

function notFound(): Response {
  return new Response(null, { status: 404, statusText: "Not Found" });
}

/** A redirect to `to` (a path, or an absolute URL), keeping the request's query when `to` has none. */
function redirectResponse(status: number, to: string, url: URL): Response {
  const destination = new URL(to, url);
  const search = destination.search || url.search;
  const location =
    destination.origin === url.origin
      ? `${destination.pathname}${search}${destination.hash}`
      : `${destination.origin}${destination.pathname}${search}${destination.hash}`;
  return new Response(null, {
    status,
    statusText: REDIRECT_TEXT[status] ?? "Found",
    headers: { Location: location },
  });
}

/** Each segment percent-decoded (left as it is when malformed); repeated slashes become one. */
function decodePath(pathname: string): string {
  return pathname
    .split("/")
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join("/")
    .replace(/\/+/g, "/");
}

function encodePath(pathname: string): string {
  return pathname.split("/").map(encodeURIComponent).join("/");
}
