import type {
  Comment,
  Doctype,
  DocumentEnd,
  Element,
  DocumentHandlers as LolHtmlDocumentHandlers,
  ElementHandlers as LolHtmlElementHandlers,
  TextChunk,
} from "html-rewriter-wasm";
import { NativeResponse, Response } from "../websocket/response.ts";
import { checkSelector } from "./lol-html.ts";
import { rewrittenBody } from "./rewritten-body.ts";

export type { Comment, Doctype, DocumentEnd, Element, EndTag, TextChunk } from "html-rewriter-wasm";

/** What `on(selector, handlers)` calls for the elements `selector` matches and what they hold. */
export interface HTMLRewriterElementContentHandlers {
  element?(element: Element): void | Promise<void>;
  comments?(comment: Comment): void | Promise<void>;
  text?(text: TextChunk): void | Promise<void>;
}

/** What `onDocument(handlers)` calls for the whole document. */
export interface HTMLRewriterDocumentContentHandlers {
  doctype?(doctype: Doctype): void | Promise<void>;
  comments?(comment: Comment): void | Promise<void>;
  text?(text: TextChunk): void | Promise<void>;
  end?(end: DocumentEnd): void | Promise<void>;
}

/**
 * The Workers `HTMLRewriter`: lol-html (Cloudflare's own streaming rewriter, as WebAssembly)
 * behind the API Cloudflare documents. Handlers may be async; one rewriter can transform many
 * responses, each with the handlers registered by then.
 *
 * @example
 * ```ts
 * const res = await fetch("https://example.com/");
 * return new HTMLRewriter()
 *   .on("a[href]", {
 *     element(a) {
 *       a.setAttribute("href", a.getAttribute("href")!.replace("http:", "https:"));
 *     },
 *   })
 *   .onDocument({ end(end) { end.append("<!-- rewritten -->", { html: true }); } })
 *   .transform(res);
 * ```
 */
export class HTMLRewriter {
  readonly #elements: [string, LolHtmlElementHandlers][] = [];
  readonly #documents: LolHtmlDocumentHandlers[] = [];

  /**
   * Calls `handlers` for each element `selector` matches (and its comments and text). Throws a
   * `TypeError` ("Parser error: …") for a selector Cloudflare does not support, as Cloudflare does.
   */
  on(selector: string, handlers: HTMLRewriterElementContentHandlers): this {
    checkSelector(String(selector));
    this.#elements.push([String(selector), handlers as LolHtmlElementHandlers]);
    return this;
  }

  /** Calls `handlers` for the document's doctype, comments, text and end. */
  onDocument(handlers: HTMLRewriterDocumentContentHandlers): this {
    this.#documents.push(handlers as LolHtmlDocumentHandlers);
    return this;
  }

  /**
   * A Response like `response` (status, status text, headers less `Content-Length`) whose body
   * is `response`'s rewritten as it streams. `response`'s body is taken (locked) now; a response
   * without a body comes back as it is, with no handler called.
   */
  transform(response: globalThis.Response): Response {
    if (!(response instanceof NativeResponse)) {
      throw new TypeError(
        "Failed to execute 'transform' on 'HTMLRewriter': parameter 1 is not of type 'Response'.",
      );
    }
    const init = { status: response.status, statusText: response.statusText };
    if (response.body === null) {
      return new Response(null, { ...init, headers: response.headers });
    }
    if (response.bodyUsed || response.body.locked) {
      throw new TypeError(
        "HTMLRewriter.transform() needs an unread body, but this Response's body was already read or is being read. Transform the Response before reading it, or transform a clone().",
      );
    }
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    const body = rewrittenBody(response.body, {
      elements: [...this.#elements],
      documents: [...this.#documents],
    });
    return new Response(body, { ...init, headers });
  }
}
