// Content from a Response or a ReadableStream for HTMLRewriter's content methods, which
// html-rewriter-wasm takes as strings only: such content is read while the handler that gave it
// runs, and applied in order with the token's other content before lol-html goes on.
import { NativeResponse } from "../websocket/response.ts";
import type { LolHtml } from "./lol-html.ts";

/** Content methods: each takes a string, a Response or a ReadableStream, and options. */
const CONTENT_METHODS = ["before", "after", "prepend", "append", "replace", "setInnerContent"];

/** The handler members lol-html calls (element and document handlers alike). */
const HANDLER_NAMES = ["element", "comments", "text", "doctype", "end"] as const;

/** A content call waiting for a Response or stream before it (and it) can be applied. */
interface QueuedContent {
  readonly method: (...args: unknown[]) => unknown;
  /** The content, or the text it is being read into. */
  readonly content: string | Promise<string>;
  readonly rest: unknown[];
}

/**
 * Content calls of a handler's token waiting to be applied in order, by token, while the handler
 * that got it runs. A Response or stream as content is read while the handler runs (Cloudflare
 * streams it in place; lol-html here takes text), and every content call on that token after it
 * waits with it, so the token's insertions keep their order.
 */
const queued = new WeakMap<object, QueuedContent[]>();

/**
 * The handlers to register with lol-html for the app's `handlers`: each calls the app's handler
 * (with the app's object as `this`) and, when the handler gave a Response or a stream as
 * content, returns a promise that lol-html waits for (as for an async handler) while the content
 * is read and applied.
 */
export function lolHtmlHandlers<H extends object>(handlers: H): H {
  const wrapped: Record<string, unknown> = {};
  for (const name of HANDLER_NAMES) {
    const handler = (handlers as Record<string, unknown>)[name];
    if (typeof handler === "function") {
      wrapped[name] = streamedHandler(handler as (...args: unknown[]) => unknown, handlers);
    }
  }
  return wrapped as H;
}

function streamedHandler(handler: (...args: unknown[]) => unknown, self: unknown) {
  return (token: object): unknown => {
    const calls: QueuedContent[] = [];
    queued.set(token, calls);
    let result: unknown;
    try {
      result = handler.call(self, token);
    } catch (error) {
      queued.delete(token);
      throw error;
    }
    if (!isThenable(result)) {
      if (calls.length === 0) {
        queued.delete(token);
        return result;
      }
      return applyQueued(token, calls);
    }
    return Promise.resolve(result).then(
      () => applyQueued(token, calls),
      (error: unknown) => {
        queued.delete(token);
        throw error;
      },
    );
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

async function applyQueued(token: object, calls: QueuedContent[]): Promise<void> {
  try {
    for (const call of calls) call.method.call(token, await call.content, ...call.rest);
  } finally {
    queued.delete(token);
  }
}

/** The text of a Response or ReadableStream given as content (UTF-8), or undefined. */
function streamedText(name: string, content: unknown): Promise<string> | undefined {
  let read: Promise<string>;
  if (content instanceof NativeResponse) {
    if (content.bodyUsed) {
      throw new TypeError(
        `HTMLRewriter ${name}() got a Response whose body was already read; pass an unread Response (or clone() it before reading).`,
      );
    }
    read = content.text();
  } else if (content instanceof ReadableStream) read = new NativeResponse(content).text();
  else return undefined;
  // Awaited in order by `applyQueued`; until then a failed read must not be unhandled.
  read.catch(() => {});
  return read;
}

/**
 * Makes content methods take a Response or a ReadableStream (the package takes strings only
 * and would insert "[object Response]"), and end-tag handlers apply them too.
 */
export function acceptStreamedContent(lolHtml: LolHtml): void {
  for (const type of [
    lolHtml.Element,
    lolHtml.EndTag,
    lolHtml.TextChunk,
    lolHtml.Comment,
    lolHtml.DocumentEnd,
  ]) {
    const proto = type.prototype as unknown as Record<string, unknown>;
    for (const name of CONTENT_METHODS) {
      const method = proto[name] as ((...args: unknown[]) => unknown) | undefined;
      if (typeof method !== "function") continue;
      proto[name] = function (this: object, content: unknown, ...rest: unknown[]) {
        const calls = queued.get(this);
        if (typeof content === "string" && (calls === undefined || calls.length === 0)) {
          return method.call(this, content, ...rest);
        }
        const text = typeof content === "string" ? content : streamedText(name, content);
        if (text === undefined) {
          throw new TypeError(
            `HTMLRewriter ${name}() takes a string, a Response or a ReadableStream as content, but got ${Object.prototype.toString.call(content)}.`,
          );
        }
        if (calls === undefined) {
          throw new TypeError(
            `HTMLRewriter ${name}() got a Response or ReadableStream outside the handler its token was given to; call it while the handler runs (an async handler may await first).`,
          );
        }
        calls.push({ method, content: text, rest });
        return this;
      };
    }
  }
  const element = lolHtml.Element.prototype as unknown as Record<string, unknown>;
  const onEndTag = element.onEndTag as (this: object, handler: unknown) => unknown;
  element.onEndTag = function (this: object, handler: unknown) {
    return onEndTag.call(
      this,
      typeof handler === "function" ? streamedHandler(handler as never, undefined) : handler,
    );
  };
}
