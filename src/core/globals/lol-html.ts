/**
 * lol-html, Cloudflare's streaming HTML rewriter, as the `html-rewriter-wasm` package ships it
 * (WebAssembly, with asyncify for async handlers): one fresh WebAssembly instance per use.
 *
 * Why not the package's own module: it holds a single instance for the whole process, and that
 * instance does not survive real use. A handler that throws leaves the instance's shadow stack
 * pointer lowered and the rewriter borrowed for good (its `free()` then throws), so an app whose
 * handler fails on every request corrupts it after some thousands of requests; and two
 * transforms whose async handlers finish out of order move that stack pointer under each other.
 * An instance per transform has neither problem, and what a transform leaves behind (an error,
 * a cancelled body, a body never read) goes with its instance to the garbage collector.
 *
 * The package's glue code is compiled once and evaluated once per instance, with the compiled
 * WebAssembly module shared: an instance costs its own memory (about 1.2 MiB to start), not a
 * compile. This leans on the package's file layout, so package.json pins its exact version.
 */
import assert from "node:assert";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import util from "node:util";
import { compileFunction } from "node:vm";
import type * as LolHtmlModule from "html-rewriter-wasm";
import { NativeResponse } from "../websocket/response.ts";

/** One lol-html instance's exports: `HTMLRewriter` and the content classes its handlers see. */
export type LolHtml = typeof LolHtmlModule;

const GLUE_PARAMETERS = ["exports", "require", "module", "__filename", "__dirname", "WebAssembly"];

interface Glue {
  readonly entry: string;
  readonly main: (...args: unknown[]) => void;
  readonly asyncify: (...args: unknown[]) => void;
  readonly wasm: WebAssembly.Module;
}

let glue: Glue | undefined;

/** Compiles the package's two glue files and its WebAssembly module, once per thread. */
function loadGlue(): Glue {
  if (glue !== undefined) return glue;
  const entry = createRequire(import.meta.url).resolve("html-rewriter-wasm");
  const dir = path.dirname(entry);
  const compile = (file: string) =>
    compileFunction(readFileSync(file, "utf8"), GLUE_PARAMETERS, { filename: file }) as (
      ...args: unknown[]
    ) => void;
  glue = {
    entry,
    main: compile(entry),
    asyncify: compile(path.join(dir, "asyncify.js")),
    wasm: new WebAssembly.Module(readFileSync(path.join(dir, "html_rewriter_bg.wasm"))),
  };
  return glue;
}

/** Runs one CommonJS glue file with `require` answered from `modules`. */
function evaluate(
  run: (...args: unknown[]) => void,
  file: string,
  modules: Record<string, unknown>,
  webAssembly: unknown,
): unknown {
  const module = { exports: {} as unknown };
  const require = (id: string) => {
    if (!(id in modules)) {
      throw new Error(
        `html-rewriter-wasm asked for "${id}", which Stead does not provide to it: the installed version is not the one package.json pins; reinstall stead's dependencies.`,
      );
    }
    return modules[id];
  };
  run(module.exports, require, module, file, path.dirname(file), webAssembly);
  return module.exports;
}

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
 * Handlers that apply streamed content: each calls the app's handler (with the app's object as
 * `this`) and, when the handler gave a Response or a stream as content, returns a promise that
 * lol-html waits for (as for an async handler) while the content is read and applied.
 */
function withStreamedContent(handlers: object): object {
  const wrapped: Record<string, unknown> = {};
  for (const name of HANDLER_NAMES) {
    const handler = (handlers as Record<string, unknown>)[name];
    if (typeof handler === "function") {
      wrapped[name] = streamedHandler(handler as (...args: unknown[]) => unknown, handlers);
    }
  }
  return wrapped;
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
function guardContent(lolHtml: LolHtml): void {
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

/** The handlers to register with lol-html for the app's `handlers` (see `withStreamedContent`). */
export function lolHtmlHandlers<H extends object>(handlers: H): H {
  return withStreamedContent(handlers) as H;
}

let live = 0;
const collected = new FinalizationRegistry<undefined>(() => {
  live -= 1;
});

/**
 * A new lol-html instance with its own memory. Call it once per transform; the instance is
 * garbage when the caller drops it, whatever state it was left in.
 */
export function newLolHtml(): LolHtml {
  const { entry, main, asyncify, wasm } = loadGlue();
  // The glue compiles the bytes it reads; hand it the module compiled once instead.
  const webAssembly = {
    Module: function SharedModule() {
      return wasm;
    },
    Instance: WebAssembly.Instance,
  };
  const asyncifyExports = evaluate(
    asyncify,
    path.join(path.dirname(entry), "asyncify.js"),
    {
      assert,
    },
    webAssembly,
  );
  const lolHtml = evaluate(
    main,
    entry,
    {
      "./asyncify.js": asyncifyExports,
      util,
      path,
      fs: { readFileSync: () => new Uint8Array(0) },
    },
    webAssembly,
  ) as LolHtml;
  guardContent(lolHtml);
  live += 1;
  collected.register(lolHtml, undefined);
  return lolHtml;
}

/** How many lol-html instances are alive on this thread (a leak shows up here after a GC). */
export function liveLolHtmlInstances(): number {
  return live;
}

let checker: LolHtml | undefined;

/**
 * Throws the `TypeError` Cloudflare throws from `on()` for a selector lol-html cannot parse
 * ("Parser error: …"); returns for a good one.
 */
export function checkSelector(selector: string): void {
  checker ??= newLolHtml();
  const rewriter = new checker.HTMLRewriter(() => {});
  try {
    rewriter.on(selector, {});
  } catch (error) {
    // A failed call leaves the instance unusable (see above): the next check gets a new one.
    checker = undefined;
    throw error;
  }
  rewriter.free();
}
