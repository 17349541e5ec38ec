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
import { acceptStreamedContent } from "./streamed-content.ts";

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
  acceptStreamedContent(lolHtml);
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
