import type {
  DocumentHandlers as LolHtmlDocumentHandlers,
  ElementHandlers as LolHtmlElementHandlers,
  HTMLRewriter as LolHtmlRewriter,
} from "html-rewriter-wasm";
import { newLolHtml } from "./lol-html.ts";
import { lolHtmlHandlers } from "./streamed-content.ts";
import { chunkBytes } from "./transform-streams.ts";

/** The handlers one transform registers, in the order the app registered them. */
export interface RewriteHandlers {
  readonly elements: readonly (readonly [selector: string, handlers: LolHtmlElementHandlers])[];
  readonly documents: readonly LolHtmlDocumentHandlers[];
}

/**
 * `source` rewritten by lol-html as it is read: a stream of bytes that pulls one chunk of `source`
 * at a time, so neither side is held whole. A handler's error (or `source`'s) errors the stream.
 *
 * The lol-html instance is made at the first read, so a body never read costs none; it is
 * dropped (and collected with everything it holds) when the stream ends, errors or is
 * cancelled, and with the stream itself when a body is dropped part-read.
 */
export function rewrittenBody(
  source: ReadableStream<Uint8Array>,
  handlers: RewriteHandlers,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let rewriter: LolHtmlRewriter | undefined;
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let done = false;
  let produced = false;

  const start = (): LolHtmlRewriter => {
    const lolHtml = newLolHtml();
    const made = new lolHtml.HTMLRewriter((chunk) => {
      // The chunk is a view of the instance's memory, valid only during this call.
      produced = true;
      controller?.enqueue(chunk.slice());
    });
    for (const [selector, elementHandlers] of handlers.elements) {
      made.on(selector, lolHtmlHandlers(elementHandlers));
    }
    for (const documentHandlers of handlers.documents) {
      made.onDocument(lolHtmlHandlers(documentHandlers));
    }
    return made;
  };

  const finish = () => {
    done = true;
    rewriter = undefined;
    controller = undefined;
  };

  // A default stream, not `type: "bytes"`: a byte stream's enqueue from inside lol-html's output
  // callback, when an async handler follows, makes the instance trap ("unreachable") on resume.
  return new ReadableStream<Uint8Array>({
    async pull(pulling) {
      controller = pulling;
      rewriter ??= start();
      const current = rewriter;
      try {
        // One pull ends when lol-html has given something out (it holds back an unfinished tag
        // or text), or at the end: a pull that enqueues nothing is not called again.
        produced = false;
        while (!produced && !done) {
          const { done: sourceDone, value } = await reader.read();
          if (done) return; // cancelled while waiting
          if (sourceDone) {
            await current.end();
            current.free();
            pulling.close();
            finish();
            return;
          }
          await current.write(toBytes(value));
        }
      } catch (error) {
        // A failed instance cannot be freed (its rewriter stays borrowed); it is dropped whole.
        finish();
        reader.cancel(error).catch(() => {});
        throw error;
      }
    },
    cancel(reason) {
      // A write may still be waiting on an async handler: the instance is dropped, not freed.
      finish();
      return reader.cancel(reason);
    },
  });
}

function toBytes(chunk: unknown): Uint8Array {
  const bytes = chunkBytes(chunk);
  if (bytes !== undefined) return bytes;
  throw new TypeError(
    `HTMLRewriter can only transform a body of bytes, but the body gave a ${typeof chunk} chunk. Build the Response from a string, bytes or a stream of Uint8Array.`,
  );
}
