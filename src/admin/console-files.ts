import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname } from "node:path";

/**
 * The web console's static files: beside this module in the sources (`src/admin/console/`), and
 * copied beside it into `dist/admin/console/` by the build (`scripts/build.ts`).
 */
export const CONSOLE_DIR = new URL("./console/", import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * The console runs only its own files: no inline script or style, no other origin, no frames.
 * Its API calls go to this listener (`connect-src 'self'`), with the token the page holds.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** A file name the console may serve: one path segment, one of the known types. */
const FILE_NAME = /^[a-z0-9][a-z0-9-]*\.(?:html|css|js|svg)$/;

/**
 * The console file a request is for: the page at `/`, the rest at `/console/<file>`; undefined
 * when the request is not for the console (it then goes to the API, which needs a token). The
 * files hold no data, so they are served without one.
 */
export function consoleFileOf(method: string | undefined, pathname: string): string | undefined {
  if (method !== "GET" && method !== "HEAD") return undefined;
  if (pathname === "/") return "index.html";
  if (!pathname.startsWith("/console/")) return undefined;
  return pathname.slice("/console/".length);
}

/** Answers a request for console file `name` (404 for one the console does not have). */
export async function serveConsoleFile(
  request: IncomingMessage,
  response: ServerResponse,
  name: string,
): Promise<void> {
  request.resume();
  let body: Buffer | undefined;
  if (FILE_NAME.test(name)) {
    try {
      body = await readFile(new URL(name, CONSOLE_DIR));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  if (body === undefined) {
    response
      .writeHead(404, { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS })
      .end(
        name === "index.html"
          ? `The web console's files are missing from this installation (looked in ${CONSOLE_DIR.pathname}). Reinstall stead.\n`
          : `The console has no file ${name}.\n`,
      );
    return;
  }
  response.writeHead(200, {
    "content-type": CONTENT_TYPES[extname(name)]!,
    "content-length": body.length,
    // Revalidated on every load, so an upgraded server never runs an old console.
    "cache-control": "no-cache",
    ...SECURITY_HEADERS,
  });
  response.end(request.method === "HEAD" ? undefined : body);
}

const SECURITY_HEADERS = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // The page's URL may carry the token in its fragment; browsers never send fragments, and no
  // page here sends a referrer at all.
  "referrer-policy": "no-referrer",
};
