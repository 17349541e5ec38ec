import type { AssetFile } from "./asset-files.ts";
import type { HtmlHandling, NotFoundHandling } from "./asset-options.ts";

/**
 * What a path resolves to among the assets: a file to serve (200, or 404 for a 404 page), or a
 * redirect to the path where that file is canonically served. Null: no asset answers the path.
 */
export type AssetIntent =
  | { readonly serve: AssetFile; readonly status: 200 | 404; readonly fallback: boolean }
  | { readonly redirect: string }
  | null;

/** The file at a path, or null when there is none. */
export type FileLookup = (pathname: string) => Promise<AssetFile | null>;

export interface IntentRules {
  readonly htmlHandling: HtmlHandling;
  readonly notFoundHandling: NotFoundHandling;
}

/**
 * Resolves a decoded path as Cloudflare's asset server does. html_handling decides where an HTML
 * file is served: `auto-trailing-slash` serves `/a/index.html` at `/a/` and `/a.html` at `/a`;
 * `force-trailing-slash` serves both at `/a/`; `drop-trailing-slash` serves both at `/a`;
 * `none` serves every file at its own path only. A request for a file at another of its paths
 * redirects to the canonical one, but only when the canonical path really serves that file.
 * A path no file answers gets not_found_handling: `/index.html` (200) for a single-page
 * application, the nearest `404.html` walking up the directories (404) for "404-page".
 */
export async function resolveIntent(
  pathname: string,
  rules: IntentRules,
  find: FileLookup,
): Promise<AssetIntent> {
  return new Resolver(rules, find).resolve(pathname, false);
}

class Resolver {
  readonly #rules: IntentRules;
  readonly #find: FileLookup;
  /** One request asks about the same paths several times: each is looked up once. */
  readonly #seen = new Map<string, Promise<AssetFile | null>>();

  constructor(rules: IntentRules, find: FileLookup) {
    this.#rules = rules;
    this.#find = find;
  }

  etag(pathname: string): Promise<AssetFile | null> {
    let found = this.#seen.get(pathname);
    if (found === undefined) {
      found = this.#find(pathname);
      this.#seen.set(pathname, found);
    }
    return found;
  }

  async resolve(path: string, noRedirects: boolean): Promise<AssetIntent> {
    switch (this.#rules.htmlHandling) {
      case "auto-trailing-slash":
        return (await this.#auto(path, noRedirects)) ?? this.#notFound(path);
      case "force-trailing-slash":
        return (await this.#force(path, noRedirects)) ?? this.#notFound(path);
      case "drop-trailing-slash":
        return (await this.#drop(path, noRedirects)) ?? this.#notFound(path);
      case "none": {
        const exact = await this.etag(path);
        return exact === null ? this.#notFound(path) : serve(exact);
      }
    }
  }

  /** Serve the file at `file` if it exists. */
  async #file(file: string): Promise<AssetIntent> {
    const etag = await this.etag(file);
    return etag === null ? null : serve(etag);
  }

  /**
   * Redirect to `to` when `file` exists, nothing lives at `to` itself, and `to` resolves to
   * `file` (so the redirect never leads somewhere else or loops).
   */
  async #redirect(file: string, to: string, noRedirects: boolean): Promise<AssetIntent> {
    if (noRedirects) return null;
    if ((await this.etag(to)) !== null) return null;
    const target = await this.resolve(to, true);
    if (target === null || !("serve" in target)) return null;
    const etag = await this.etag(file);
    return etag !== null && target.serve.etag === etag.etag ? { redirect: to } : null;
  }

  async #first(...steps: Array<() => Promise<AssetIntent>>): Promise<AssetIntent> {
    for (const step of steps) {
      const intent = await step();
      if (intent !== null) return intent;
    }
    return null;
  }

  async #auto(p: string, nr: boolean): Promise<AssetIntent> {
    const exact = await this.etag(p);
    let special: AssetIntent = null;
    if (p.endsWith("/index")) {
      if (exact !== null) return serve(exact);
      special = await this.#first(
        () => this.#redirect(`${p}.html`, cut(p, "index"), nr),
        () => this.#redirect(`${cut(p, "/index")}.html`, cut(p, "/index"), nr),
      );
    } else if (p.endsWith("/index.html")) {
      special = await this.#first(
        () => this.#redirect(p, cut(p, "index.html"), nr),
        () => this.#redirect(`${cut(p, "/index.html")}.html`, cut(p, "/index.html"), nr),
      );
    } else if (p.endsWith("/")) {
      special = await this.#first(
        () => this.#file(`${p}index.html`),
        () => this.#redirect(`${cut(p, "/")}.html`, cut(p, "/"), nr),
      );
    } else if (p.endsWith(".html")) {
      special = await this.#first(
        () => this.#redirect(p, cut(p, ".html"), nr),
        () => this.#redirect(`${cut(p, ".html")}/index.html`, `${cut(p, ".html")}/`, nr),
      );
    }
    if (special !== null) return special;
    if (exact !== null) return serve(exact);
    return this.#first(
      () => this.#file(`${p}.html`),
      () => this.#redirect(`${p}/index.html`, `${p}/`, nr),
    );
  }

  async #force(p: string, nr: boolean): Promise<AssetIntent> {
    const exact = await this.etag(p);
    let special: AssetIntent = null;
    if (p.endsWith("/index")) {
      if (exact !== null) return serve(exact);
      special = await this.#first(
        () => this.#redirect(`${p}.html`, cut(p, "index"), nr),
        () => this.#redirect(`${cut(p, "/index")}.html`, cut(p, "index"), nr),
      );
    } else if (p.endsWith("/index.html")) {
      special = await this.#first(
        () => this.#redirect(p, cut(p, "index.html"), nr),
        () => this.#redirect(`${cut(p, "/index.html")}.html`, cut(p, "index.html"), nr),
      );
    } else if (p.endsWith("/")) {
      special = await this.#first(
        () => this.#file(`${p}index.html`),
        () => this.#file(`${cut(p, "/")}.html`),
      );
    } else if (p.endsWith(".html")) {
      special = await this.#first(
        () => this.#redirect(p, `${cut(p, ".html")}/`, nr),
        async () => (exact === null ? null : serve(exact)),
        () => this.#redirect(`${cut(p, ".html")}/index.html`, `${cut(p, ".html")}/`, nr),
      );
    }
    if (special !== null) return special;
    if (exact !== null) return serve(exact);
    return this.#first(
      () => this.#redirect(`${p}.html`, `${p}/`, nr),
      () => this.#redirect(`${p}/index.html`, `${p}/`, nr),
    );
  }

  async #drop(p: string, nr: boolean): Promise<AssetIntent> {
    const exact = await this.etag(p);
    let special: AssetIntent = null;
    if (p.endsWith("/index")) {
      if (exact !== null) return serve(exact);
      special =
        p === "/index"
          ? await this.#redirect("/index.html", "/", nr)
          : await this.#first(
              () => this.#redirect(`${cut(p, "/index")}.html`, cut(p, "/index"), nr),
              () => this.#redirect(`${p}.html`, cut(p, "/index"), nr),
            );
    } else if (p.endsWith("/index.html")) {
      special =
        p === "/index.html"
          ? await this.#redirect("/index.html", "/", nr)
          : await this.#first(
              () => this.#redirect(p, cut(p, "/index.html"), nr),
              async () => (exact === null ? null : serve(exact)),
              () => this.#redirect(`${cut(p, "/index.html")}.html`, cut(p, "/index.html"), nr),
            );
    } else if (p.endsWith("/")) {
      special =
        p === "/"
          ? await this.#file("/index.html")
          : await this.#first(
              () => this.#redirect(`${cut(p, "/")}.html`, cut(p, "/"), nr),
              () => this.#redirect(`${cut(p, "/")}/index.html`, cut(p, "/"), nr),
            );
    } else if (p.endsWith(".html")) {
      special = await this.#first(
        () => this.#redirect(p, cut(p, ".html"), nr),
        () => this.#redirect(`${cut(p, ".html")}/index.html`, cut(p, ".html"), nr),
      );
    }
    if (special !== null) return special;
    if (exact !== null) return serve(exact);
    return this.#first(
      () => this.#file(`${p}.html`),
      () => this.#file(`${p}/index.html`),
    );
  }

  async #notFound(path: string): Promise<AssetIntent> {
    switch (this.#rules.notFoundHandling) {
      case "single-page-application": {
        const etag = await this.etag("/index.html");
        return etag === null ? null : { serve: etag, status: 200, fallback: true };
      }
      case "404-page": {
        for (let dir = path; dir !== ""; ) {
          dir = dir.slice(0, dir.lastIndexOf("/"));
          const etag = await this.etag(`${dir}/404.html`);
          if (etag !== null) return { serve: etag, status: 404, fallback: true };
        }
        return null;
      }
      case "none":
        return null;
    }
  }
}

function serve(etag: AssetFile): AssetIntent {
  return { serve: etag, status: 200, fallback: false };
}

/** `path` without its `suffix`. */
function cut(path: string, suffix: string): string {
  return path.slice(0, -suffix.length);
}
