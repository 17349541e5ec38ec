import EDITOR_JS from "../build/editor.js";
import type { SharedDocument } from "./document";
import PAGE from "./page.html";
import { DOCUMENT_NAME } from "./protocol";

export { SharedDocument } from "./document";

export interface Env {
  DOCUMENTS: DurableObjectNamespace<SharedDocument>;
  COMPACT_AFTER_UPDATES: string;
}

/**
 * `GET /` and `GET /d/<name>`: the editor page (for the document "default" and <name>).
 * `GET /editor.js`: the page's script, bundled from client/ by the build command.
 * `GET /d/<name>/ws`: the editor's WebSocket to the document's object.
 * `GET /d/<name>/text`: the document's current text, as plain text.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response(`${request.method} is not supported here; use GET.`, {
        status: 405,
        headers: { Allow: "GET, HEAD" },
      });
    }
    const { pathname } = new URL(request.url);
    if (pathname === "/") return page();
    if (pathname === "/editor.js") {
      return new Response(EDITOR_JS, {
        headers: {
          "Content-Type": "text/javascript; charset=utf-8",
          // Rebuilt by `stead dev` on every change under client/: let browsers check for it.
          "Cache-Control": "no-cache",
        },
      });
    }
    const match = /^\/d\/([^/]*)(\/ws|\/text)?$/.exec(pathname);
    if (match === null) return new Response("Not found", { status: 404 });
    const name = documentName(match[1]!);
    if (name === undefined) {
      return new Response(
        `Document names are 1 to 64 letters, digits, "-" or "_" (got ${JSON.stringify(match[1])}).`,
        { status: 400 },
      );
    }
    const stub = env.DOCUMENTS.getByName(name);
    switch (match[2]) {
      case "/ws":
        if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
          return new Response("Expected a WebSocket upgrade: this is the editor's sync socket.", {
            status: 426,
          });
        }
        return stub.fetch(request);
      case "/text":
        return new Response(await stub.text(), {
          headers: { "Content-Type": "text/plain; charset=utf-8" },
        });
      default:
        return page();
    }
  },
} satisfies ExportedHandler<Env>;

function page(): Response {
  return new Response(PAGE, { headers: { "Content-Type": "text/html; charset=utf-8" } });
}

/** The decoded name from a URL path segment, or undefined when it is not a valid name. */
function documentName(segment: string): string | undefined {
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  return DOCUMENT_NAME.test(name) ? name : undefined;
}
