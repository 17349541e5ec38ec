import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { collectGarbage } from "../../../test/support/open-files.ts";
import { HTMLRewriter, type HTMLRewriterElementContentHandlers } from "./html-rewriter.ts";
import { liveLolHtmlInstances } from "./lol-html.ts";

/** `html` through a rewriter with `handlers` on `selector`. */
function rewrite(html: string, selector: string, handlers: HTMLRewriterElementContentHandlers) {
  return new HTMLRewriter().on(selector, handlers).transform(new Response(html)).text();
}

describe("HTMLRewriter", () => {
  it("reads and changes attributes, and chains", async () => {
    const seen: string[][] = [];
    const rewriter = new HTMLRewriter();
    assert.equal(
      rewriter.on("a[href]", {
        element(a) {
          seen.push([...a.attributes].flat(), [a.tagName, String(a.hasAttribute("id"))]);
          a.setAttribute("href", a.getAttribute("href")?.replace("http:", "https:") ?? "");
          a.removeAttribute("id");
        },
      }),
      rewriter,
    );
    const out = await rewriter.transform(new Response('<a href="http://x" id=i>x</a>')).text();
    assert.equal(out, '<a href="https://x">x</a>');
    assert.deepEqual(seen, [
      ["href", "http://x", "id", "i"],
      ["a", "true"],
    ]);
  });

  it("inserts content as text, or as HTML with { html: true }", async () => {
    const mutate = (html: boolean) =>
      rewrite("<p>old</p><i>i</i><b>b</b><u>u</u>", "*", {
        element(e) {
          if (e.tagName === "p") e.before("<x>", { html }).after("<y>", { html });
          if (e.tagName === "p") e.prepend("<1>", { html }).append("<2>", { html });
          if (e.tagName === "i") e.setInnerContent("<in>", { html });
          if (e.tagName === "b") e.replace("<r>", { html });
          if (e.tagName === "u") e.remove();
        },
      });
    assert.equal(
      await mutate(false),
      "&lt;x&gt;<p>&lt;1&gt;old&lt;2&gt;</p>&lt;y&gt;<i>&lt;in&gt;</i>&lt;r&gt;",
    );
    assert.equal(await mutate(true), "<x><p><1>old<2></p><y><i><in></i><r>");
    assert.equal(
      await rewrite("<div><span>keep</span></div>", "div", {
        element: (e) => void e.removeAndKeepContent(),
      }),
      "<span>keep</span>",
    );
  });

  it("gives text in chunks marked lastInTextNode, comments, and end tags", async () => {
    const chunks: [string, boolean][] = [];
    const out = await rewrite("<p>hello <!--note--> world</p>", "p", {
      text(text) {
        chunks.push([text.text, text.lastInTextNode]);
      },
      comments(comment) {
        assert.equal(comment.text, "note");
        comment.replace("<!--changed-->", { html: true });
      },
      element(e) {
        e.onEndTag((end) => {
          end.before("!");
          assert.equal(end.name, "p");
        });
      },
    });
    assert.equal(out, "<p>hello <!--changed--> world!</p>");
    assert.equal(chunks.map(([text]) => text).join(""), "hello  world");
    assert.deepEqual(chunks.at(-1), ["", true]);
  });

  it("calls document handlers for the doctype, comments, text and end", async () => {
    const seen: unknown[] = [];
    const out = await new HTMLRewriter()
      .onDocument({
        doctype: (d) => void seen.push([d.name, d.publicId, d.systemId]),
        comments: (c) => void seen.push(c.text),
        text: (t) => void (t.text && seen.push(t.text)),
        end: (end) => void end.append("<!--end-->", { html: true }),
      })
      .transform(new Response("<!DOCTYPE html><!--c-->t"))
      .text();
    assert.equal(out, "<!DOCTYPE html><!--c-->t<!--end-->");
    assert.deepEqual(seen, [["html", null, null], "c", "t"]);
  });

  it("awaits async handlers, in document order", async () => {
    const out = await rewrite("<h1>a</h1><p>b</p><p>c</p>", "p", {
      async element(p) {
        await new Promise((resolve) => setImmediate(resolve));
        p.setAttribute("data-late", "1");
      },
    });
    assert.equal(out, '<h1>a</h1><p data-late="1">b</p><p data-late="1">c</p>');
  });

  it("keeps status and headers, drops Content-Length, passes a bodiless response through", async () => {
    const res = new Response("<p>x</p>", {
      status: 201,
      statusText: "Made",
      headers: { "content-length": "8", "x-a": "1" },
    });
    const out = new HTMLRewriter().transform(res);
    assert.equal(out.status, 201);
    assert.equal(out.statusText, "Made");
    assert.equal(out.headers.get("x-a"), "1");
    assert.equal(out.headers.get("content-length"), null);
    assert.equal(await out.text(), "<p>x</p>");
    await assert.rejects(res.text(), TypeError);
    let ended = false;
    const empty = new HTMLRewriter()
      .onDocument({ end: () => void (ended = true) })
      .transform(new Response(null, { status: 204 }));
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
    assert.equal(ended, false);
  });

  it("throws Cloudflare's TypeError at on() for an unsupported selector", () => {
    assert.throws(() => new HTMLRewriter().on("p:hover", {}), {
      name: "TypeError",
      message: "Parser error: Unsupported pseudo-class or pseudo-element in selector.",
    });
    assert.throws(() => new HTMLRewriter().on("", {}), TypeError);
    new HTMLRewriter().on("div > p:nth-child(2n+1).c#i[a^='x']:not(.d)", {});
  });

  it("errors the body with a handler's error, and keeps working after many", async () => {
    for (let i = 0; i < 300; i++) {
      const failing = rewrite("<p>x</p>", "p", {
        element() {
          throw new Error(`boom ${i}`);
        },
      });
      await assert.rejects(failing, { message: `boom ${i}` });
    }
    assert.equal(
      await rewrite("<p>x</p>", "p", { element: (p) => void p.setInnerContent("y") }),
      "<p>y</p>",
    );
  });

  it("inserts a Response or a ReadableStream as content, in order with the token's other content", async () => {
    const stream = (...parts: string[]) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
          controller.close();
        },
      });
    const out = await new HTMLRewriter()
      .on("p", {
        element(p) {
          p.before("<a>", { html: true });
          p.prepend(new Response("<b>") as never, { html: true });
          p.append("<c>");
          p.append(stream("<d", ">é") as never, { html: true });
          p.onEndTag((end) => void end.after(new Response("<e>") as never));
        },
      })
      .onDocument({
        async end(end) {
          await Promise.resolve();
          end.append(stream("<!-- ", "end -->") as never, { html: true });
        },
      })
      .transform(new Response("<p>x</p>"))
      .text();
    assert.equal(out, "<a><p><b>x&lt;c&gt;<d>é</p>&lt;e&gt;<!-- end -->");
  });

  it("calls a handler object's methods on the object, as Cloudflare does", async () => {
    class Tagger {
      readonly tag = "t";
      element(element: { setAttribute(name: string, value: string): void }) {
        element.setAttribute("data-tag", this.tag);
      }
    }
    assert.equal(
      await new HTMLRewriter()
        .on("p", new Tagger() as HTMLRewriterElementContentHandlers)
        .transform(new Response("<p>x</p>"))
        .text(),
      '<p data-tag="t">x</p>',
    );
  });

  it("refuses content that is not a string, Response or stream, and a Response already read", async () => {
    await assert.rejects(rewrite("<p>x</p>", "p", { element: (p) => void p.append(42 as never) }), {
      name: "TypeError",
      message: /takes a string, a Response or a ReadableStream/,
    });
    const used = new Response("y");
    await used.text();
    await assert.rejects(
      rewrite("<p>x</p>", "p", { element: (p) => void p.append(used as never) }),
      { name: "TypeError", message: /already read/ },
    );
    // A stream that fails errors the body, as a handler's error does.
    const failing = new ReadableStream({
      pull(controller) {
        controller.error(new Error("source gone"));
      },
    });
    await assert.rejects(
      rewrite("<p>x</p>", "p", { element: (p) => void p.append(failing as never) }),
      /source gone/,
    );
  });

  it("streams a body of several MiB as it is read, without holding it", async () => {
    const chunk = new TextEncoder().encode(`<p class="c">${"x".repeat(64 * 1024 - 20)}</p>`);
    const total = 64; // 4 MiB in 64 KiB chunks
    let pulled = 0;
    const source = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled === total) return controller.close();
          pulled += 1;
          controller.enqueue(chunk);
        },
      },
      { highWaterMark: 0 },
    );
    let seen = 0;
    const body = new HTMLRewriter()
      .on("p", { element: () => void (seen += 1) })
      .transform(new Response(source)).body;
    assert.ok(body);
    const reader = body.getReader();
    let bytes = 0;
    const first = await reader.read();
    bytes += first.value?.byteLength ?? 0;
    // One read pulls about one source chunk, not the whole document.
    assert.ok(pulled <= 2, `pulled ${pulled} of ${total} chunks for one read`);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      assert.ok(pulled * chunk.byteLength - bytes <= 2 * chunk.byteLength, "read kept pace");
    }
    assert.equal(bytes, total * chunk.byteLength);
    assert.equal(seen, total);
  });

  it("leaves no lol-html instance behind for bodies dropped part-read or cancelled", async () => {
    await collectGarbage();
    const before = liveLolHtmlInstances();
    const html = `<p>${"x".repeat(100_000)}</p>`.repeat(4);
    for (let i = 0; i < 20; i++) {
      const dropped = new HTMLRewriter().on("p", { element() {} }).transform(new Response(html));
      await dropped.body?.getReader().read(); // started, then dropped unread
      const cancelled = new HTMLRewriter().transform(new Response(html)).body?.getReader();
      await cancelled?.read();
      await cancelled?.cancel();
    }
    assert.ok(liveLolHtmlInstances() >= before + 20, "the instances were made");
    await collectGarbage();
    await collectGarbage();
    assert.equal(liveLolHtmlInstances(), before);
  });
});
