/**
 * A log row's body: the pages one object transaction (or several, merged) wrote, as
 * `[page number: u32 big-endian][page image]` repeated, in page-number order, each page once
 * with its last image. Every page has the database's page size.
 */
export function encodeBody(pages: ReadonlyMap<number, Uint8Array>, pageSize: number): Buffer {
  const numbers = [...pages.keys()].sort((a, b) => a - b);
  const body = Buffer.allocUnsafe(numbers.length * (4 + pageSize));
  let at = 0;
  for (const pgno of numbers) {
    body.writeUInt32BE(pgno, at);
    body.set(pages.get(pgno)!, at + 4);
    at += 4 + pageSize;
  }
  return body;
}

/** The pages of a body made by `encodeBody`; throws when its length does not fit `pageSize`. */
export function* decodeBody(body: Buffer, pageSize: number): Generator<[number, Buffer]> {
  const entry = 4 + pageSize;
  if (body.length % entry !== 0) {
    throw new RangeError(
      `a log body of ${body.length} bytes is not a whole number of ${pageSize}-byte pages`,
    );
  }
  for (let at = 0; at < body.length; at += entry) {
    yield [body.readUInt32BE(at), body.subarray(at + 4, at + entry)];
  }
}
