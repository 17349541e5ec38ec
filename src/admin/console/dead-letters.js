// Alarms that failed every retry (newest first), each linked to its object.

import { api } from "./api.js";
import { count, fill, h, route, showError, when } from "./dom.js";

/**
 * One record of `GET /api/v1/dead-letters`.
 * @typedef {{
 *   namespace: string,
 *   id: string,
 *   name?: string | null,
 *   scheduledTime: number,
 *   retryCount: number,
 *   error: string,
 *   failedAt: number,
 * }} DeadLetter
 */

/** @param {import("./main.js").ViewContext} context */
export function deadLettersView({ main, signal }) {
  const list = h("div", { id: "dead-letters" }, h("p", { class: "muted" }, "Loading…"));
  fill(
    main,
    h("h1", { tabindex: -1 }, "Dead letters"),
    h("p", { class: "muted" }, "Alarms that failed every retry and were given up, newest first."),
    h("section", { class: "card", "aria-label": "Dead-lettered alarms" }, list),
  );
  /** @type {Promise<[import("./overview.js").Namespace[], DeadLetter[]]>} */
  const loaded = Promise.all([api("/api/v1/namespaces"), api("/api/v1/dead-letters")]);
  loaded.then(
    ([namespaces, letters]) => {
      if (signal.aborted) return;
      const classOf = new Map(namespaces.map((n) => [n.storageName, n.className]));
      fill(
        list,
        letters.length === 0
          ? h("p", {}, "No alarm has failed every retry.")
          : table(letters, classOf),
      );
    },
    (error) => showError(list, error),
  );
}

function table(/** @type {DeadLetter[]} */ letters, /** @type {Map<string, string>} */ classOf) {
  return h(
    "div",
    { class: "grid-scroll" },
    h(
      "table",
      { class: "grid" },
      h("caption", { class: "visually-hidden" }, "Dead-lettered alarms"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Object"),
          h("th", { scope: "col" }, "Scheduled for"),
          h("th", { scope: "col", class: "number" }, "Retries"),
          h("th", { scope: "col" }, "Given up"),
          h("th", { scope: "col" }, "Last error"),
        ),
      ),
      h(
        "tbody",
        {},
        letters.map((letter) => {
          const className = classOf.get(letter.namespace) ?? letter.namespace;
          const [first, ...rest] = letter.error.split("\n");
          return h(
            "tr",
            {},
            h(
              "td",
              {},
              `${className} `,
              h(
                "a",
                { href: route("ns", className, "obj", letter.id), class: "mono" },
                letter.name ?? `${letter.id.slice(0, 16)}…`,
              ),
            ),
            h("td", {}, when(letter.scheduledTime)),
            h("td", { class: "number" }, count(letter.retryCount)),
            h("td", {}, when(letter.failedAt)),
            h(
              "td",
              { class: "error-text" },
              h("code", {}, first ?? ""),
              rest.length === 0
                ? null
                : h("details", {}, h("summary", {}, "Stack"), h("pre", {}, rest.join("\n"))),
            ),
          );
        }),
      ),
    ),
  );
}
