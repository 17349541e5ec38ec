/** What `assets.not_found_handling` may say. */
export type NotFoundHandling = "single-page-application" | "404-page" | "none";
/** What `assets.html_handling` may say. */
export type HtmlHandling =
  | "auto-trailing-slash"
  | "force-trailing-slash"
  | "drop-trailing-slash"
  | "none";

/**
 * Static assets, named as the wrangler config's `assets` key names them
 * (https://developers.cloudflare.com/workers/static-assets/binding/).
 */
export interface AssetsOptions {
  /** The directory served (absolute, or relative to the runtime's `cwd`). */
  directory: string;
  /** The binding the Worker reaches the assets through (`env.ASSETS.fetch`), if any. */
  binding?: string;
  /** What a path with no asset gets. Default "none" (the Worker runs, or a 404). */
  not_found_handling?: NotFoundHandling;
  /** How `.html` files and trailing slashes map to paths. Default "auto-trailing-slash". */
  html_handling?: HtmlHandling;
  /**
   * true: every request goes to the Worker first (it serves assets through its binding). A list
   * of route patterns (`/api/*`; `!/api/docs/*` excludes): matching requests go to the Worker
   * first, the others to the assets. Default false: assets first, the Worker for the rest.
   */
  run_worker_first?: boolean | string[];
}

/** `AssetsOptions` with the defaults applied and `directory` absolute. */
export interface ResolvedAssets {
  readonly directory: string;
  readonly binding: string | undefined;
  readonly notFoundHandling: NotFoundHandling;
  readonly htmlHandling: HtmlHandling;
  readonly runWorkerFirst: boolean | readonly string[];
  /**
   * Whether navigation requests (`Sec-Fetch-Mode: navigate`) for a missing path get the
   * not-found handling before the Worker runs: on from compatibility date 2025-04-01
   * (`assets_navigation_prefers_asset_serving`), off with `assets_navigation_has_no_effect`.
   */
  readonly navigationPrefersAssets: boolean;
}

/** The date from which navigation requests prefer asset serving. */
const NAVIGATION_PREFERS_ASSETS_FROM = "2025-04-01";

export function resolveAssets(
  options: AssetsOptions,
  directory: string,
  compatibilityDate: string,
  compatibilityFlags: readonly string[],
): ResolvedAssets {
  const navigationPrefersAssets = compatibilityFlags.includes(
    "assets_navigation_prefers_asset_serving",
  )
    ? true
    : compatibilityFlags.includes("assets_navigation_has_no_effect")
      ? false
      : compatibilityDate >= NAVIGATION_PREFERS_ASSETS_FROM;
  return Object.freeze({
    directory,
    binding: options.binding,
    notFoundHandling: options.not_found_handling ?? "none",
    htmlHandling: options.html_handling ?? "auto-trailing-slash",
    runWorkerFirst: options.run_worker_first ?? false,
    navigationPrefersAssets,
  });
}
