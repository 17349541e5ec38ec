import { attachEncodedBody } from "../../core/encoded-body.ts";
import type { AssetFile } from "./asset-files.ts";
import { contentTypeOf, isCompressible } from "./content-types.ts";
import { fileBody } from "./file-body.ts";

/** Browsers revalidate every time (a 304 is cheap), as Cloudflare serves assets. */
const CACHE_CONTROL = "public, max-age=0, must-revalidate";

/** Smaller responses are not worth compressing. */
const MIN_COMPRESS_BYTES = 1024;

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  206: "Partial Content",
  304: "Not Modified",
  404: "Not Found",
  416: "Range Not Satisfiable",
};

/**
 * The response for serving `file` with `status` (200, or 404 for a 404 page): `ETag` (weak when
 * the body is compressed), `Content-Type`, `Cache-Control` (not for requests with
 * `Authorization` or `Range`), `304` when `If-None-Match` names the file, a `206` part for a
 * single `Range` (honouring `If-Range`), `416` for a range past the end, and `Content-Encoding:
 * br`/`gzip` for compressible types the client accepts: the body stays the content (as in
 * Workers, where a Response body is always the decoded content); the HTTP server sends the
 * precompressed file (`app.js.br`, `app.js.gz`) when there is one, and encodes it otherwise.
 */
export async function assetResponse(
  request: Request,
  file: AssetFile,
  status: 200 | 404,
  files: FileAccess,
): Promise<Response> {
  const contentType = contentTypeOf(file.path);
  const headers = new Headers({ "Content-Type": contentType });
  const strong = `"${file.etag}"`;
  const head = request.method === "HEAD";
  if (!request.headers.has("Authorization") && !request.headers.has("Range")) {
    headers.set("Cache-Control", CACHE_CONTROL);
  }
  const range = status === 200 ? requestedRange(request, strong, file.size) : undefined;
  let encoding: "br" | "gzip" | undefined;
  let precompressed: Uint8Array | undefined;
  if (!head && range === undefined && isCompressible(contentType)) {
    const accepted = acceptedEncodings(request.headers.get("Accept-Encoding"));
    for (const coding of accepted) {
      precompressed = await files.precompressed(file, coding);
      if (precompressed !== undefined) {
        encoding = coding;
        break;
      }
    }
    if (encoding === undefined && file.size >= MIN_COMPRESS_BYTES) encoding = accepted[0];
  }
  headers.set("ETag", encoding === undefined ? strong : `W/${strong}`);
  if (isCompressible(contentType)) headers.set("Vary", "Accept-Encoding");
  if (noneMatch(request.headers.get("If-None-Match"), file.etag)) {
    return new Response(null, { status: 304, statusText: STATUS_TEXT[304], headers });
  }
  if (status === 200) headers.set("Accept-Ranges", "bytes");
  if (range === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${file.size}`);
    headers.delete("Content-Type");
    return new Response(null, { status: 416, statusText: STATUS_TEXT[416], headers });
  }
  const [start, end] = range ?? [0, file.size - 1];
  if (range !== undefined) headers.set("Content-Range", `bytes ${start}-${end}/${file.size}`);
  if (encoding !== undefined) headers.set("Content-Encoding", encoding);
  else headers.set("Content-Length", String(end - start + 1));
  const finalStatus = range === undefined ? status : 206;
  let body: Uint8Array | ReadableStream<Uint8Array> | null = null;
  if (!head && file.size > 0) {
    if (file.bytes !== undefined) body = file.bytes.subarray(start, end + 1);
    else {
      body = await fileBody(file.path, start, end);
      if (body instanceof Uint8Array && start === 0 && end === file.size - 1) {
        files.keepBytes(file, body);
      }
    }
  }
  const response = new Response(body as BodyInit | null, {
    status: finalStatus,
    statusText: STATUS_TEXT[finalStatus]!,
    headers,
  });
  // The body stays the content; the HTTP server sends the precompressed bytes instead.
  if (precompressed !== undefined) attachEncodedBody(response, encoding!, precompressed);
  return response;
}

/** What serving a file needs of the asset files. */
export interface FileAccess {
  /** Keeps the contents read for the next requests. */
  keepBytes(file: AssetFile, bytes: Uint8Array): void;
  /** The file precompressed with `encoding` (`app.js.br`, `app.js.gz`), if there is one. */
  precompressed(file: AssetFile, encoding: "br" | "gzip"): Promise<Uint8Array | undefined>;
}

/** Whether `If-None-Match` names the file's etag (strong or weak, or `*`). */
function noneMatch(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(",").some((tag) => {
    const trimmed = tag.trim();
    return trimmed === "*" || trimmed.replace(/^W\//, "") === `"${etag}"`;
  });
}

/**
 * The single byte range asked for, as [start, end] inclusive; "unsatisfiable" for one past the
 * end; undefined to serve the whole file (no Range, several ranges, a malformed header, or an
 * `If-Range` that no longer names the file).
 */
function requestedRange(
  request: Request,
  strongEtag: string,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  const header = request.headers.get("Range");
  if (header === null || request.method !== "GET") return undefined;
  const ifRange = request.headers.get("If-Range");
  if (ifRange !== null && ifRange.trim() !== strongEtag) return undefined;
  const match = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (match === null) return undefined;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "" && last === "") return undefined;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    return size === 0 ? "unsatisfiable" : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return [start, end];
}

/** The codings `Accept-Encoding` allows, of br and gzip, in that order of preference. */
function acceptedEncodings(header: string | null): ("br" | "gzip")[] {
  if (header === null) return [];
  const accepted = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)).find((m) => m !== null);
    accepted.set(name!.trim(), q ? Number(q[1]) : 1);
  }
  const allows = (coding: string) => (accepted.get(coding) ?? accepted.get("*") ?? 0) > 0;
  return (["br", "gzip"] as const).filter(allows);
}
