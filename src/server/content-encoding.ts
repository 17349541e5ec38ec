import { Duplex } from "node:stream";
import {
  constants,
  createBrotliCompress,
  createDeflate,
  createGzip,
  createZstdCompress,
} from "node:zlib";

/**
 * A compressor for a Response that declares `Content-Encoding`, or undefined for an encoding
 * the server does not apply.
 *
 * In Workers a Response body is the decoded content and the runtime encodes it to match its
 * `Content-Encoding` header: `return fetch(upstream)` forwards a gzip response whose body
 * `fetch` already decoded. Covers the codings `fetch` decodes. Each chunk is flushed, so
 * streamed responses stay streamed.
 */
export function contentEncoder(
  contentEncoding: string,
): ReadableWritablePair<Uint8Array, Uint8Array> | undefined {
  switch (contentEncoding.trim().toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return webPair(createGzip({ flush: constants.Z_SYNC_FLUSH }));
    case "deflate":
      return webPair(createDeflate({ flush: constants.Z_SYNC_FLUSH }));
    case "br":
      // Quality 5, not zlib's default 11: that one compresses a few MB/s, far too slow for
      // responses made at request time (static assets among them).
      return webPair(
        createBrotliCompress({
          flush: constants.BROTLI_OPERATION_FLUSH,
          params: { [constants.BROTLI_PARAM_QUALITY]: 5 },
        }),
      );
    case "zstd":
      return webPair(createZstdCompress({ flush: constants.ZSTD_e_flush }));
    default:
      return undefined;
  }
}

function webPair(duplex: Duplex): ReadableWritablePair<Uint8Array, Uint8Array> {
  // Node types its web streams apart from the DOM's; they are the same classes at run time.
  return Duplex.toWeb(duplex) as unknown as ReadableWritablePair<Uint8Array, Uint8Array>;
}
