import { extname } from "node:path";

/** Content types by extension: the web's common files (what browsers need to be exact). */
const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".htm": "text/html",
  ".css": "text/css",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".cjs": "text/javascript",
  ".json": "application/json",
  ".map": "application/json",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain",
  ".md": "text/markdown",
  ".csv": "text/csv",
  ".xml": "application/xml",
  ".rss": "application/rss+xml",
  ".atom": "application/atom+xml",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/x-icon",
  ".bmp": "image/bmp",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".otf": "font/otf",
  ".eot": "application/vnd.ms-fontobject",
  ".wasm": "application/wasm",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".tar": "application/x-tar",
  ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg",
  ".wav": "audio/wav",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
};

/**
 * The Content-Type an asset is served with, from its extension, with `charset=utf-8` for text
 * (as Cloudflare serves it); files of unknown extension are `application/octet-stream`.
 */
export function contentTypeOf(path: string): string {
  const type = TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
  return isText(type) ? `${type}; charset=utf-8` : type;
}

function isText(type: string): boolean {
  return (
    type.startsWith("text/") ||
    type === "application/json" ||
    type === "application/manifest+json" ||
    type === "application/xml" ||
    type === "image/svg+xml"
  );
}

/** Whether a response of this type is worth compressing (text, JSON, SVG, wasm, fonts). */
export function isCompressible(contentType: string): boolean {
  const type = contentType.split(";")[0]!.trim();
  return (
    isText(type) ||
    type.endsWith("+json") ||
    type.endsWith("+xml") ||
    type === "text/javascript" ||
    type === "application/wasm" ||
    type === "font/ttf" ||
    type === "font/otf" ||
    type === "image/x-icon" ||
    type === "image/bmp"
  );
}
