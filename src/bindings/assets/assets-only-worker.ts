// The Worker of an app that has static assets and no Worker of its own (a wrangler config with
// `assets` and no `main`), as Cloudflare runs one: every request goes to the assets, and a path
// they do not answer gets their not-found handling, or a 404. It is bundled as an app's entry.

/** Marks this module: the runtime routes every request to the assets. */
export const __steadAssetsOnly = true;

export default {
  fetch(): Response {
    return new Response(null, { status: 404, statusText: "Not Found" });
  },
};
