/**
 * A response's body already encoded, beside the content its `body` streams. In Workers a
 * Response body is the decoded content and the runtime encodes it for its `Content-Encoding`;
 * a response that has the encoded bytes at hand (a precompressed static asset, `app.js.br`)
 * carries them here, and the HTTP server sends them instead of encoding the content again. A
 * copy of the response (`new Response(response.body, response)`) has none, and is encoded as usual.
 */
const ENCODED = new WeakMap<Response, { readonly encoding: string; readonly bytes: Uint8Array }>();

/** Call this when `response` says `Content-Encoding: encoding` and `bytes` are its body so encoded. */
export function attachEncodedBody(response: Response, encoding: string, bytes: Uint8Array): void {
  ENCODED.set(response, { encoding, bytes });
}

/** The encoded body of `response` for `encoding`, if one was attached. */
export function encodedBodyOf(response: Response, encoding: string): Uint8Array | undefined {
  const encoded = ENCODED.get(response);
  return encoded?.encoding === encoding.trim().toLowerCase() ? encoded.bytes : undefined;
}
