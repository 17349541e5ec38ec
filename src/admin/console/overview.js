// The first page: every namespace with its object count, the dead letters' count, live metrics.

import { api } from "./api.js";
import { count, fill, h, plural, route, showError } from "./dom.js";
import { metricsPanel } from "./metrics.js";

/**
 * One namespace as `GET /api/v1/namespaces` lists it.
 * @typedef {{ className: string, storageName: string, backend: "sqlite" | "kv", objects: number }} Namespace
 */

/** @param {import("./main.js").ViewContext} context */
export function overviewView({ main, signal }) {
  const namespaces = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const deadLetters = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const metrics = h("div", {});
  fill(
    main,
    h("h1", { tabindex: -1 }, "Overview"),
    h(
      "section",
      { class: "card", "aria-labelledby": "namespaces-heading" },
      h("h2", { id: "namespaces-heading" }, "Namespaces"),
      namespaces,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "metrics-heading" },
      h("h2", { id: "metrics-heading" }, "Metrics"),
      metrics,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "dead-letters-heading" },
      h("h2", { id: "dead-letters-heading" }, "Dead-lettered alarms"),
      deadLetters,
    ),
  );
  metricsPanel(metrics, signal);
  api("/api/v1/namespaces").then(
    (/** @type {Namespace[]} */ list) => {
      if (!signal.aborted) fill(namespaces, namespaceTable(list));
    },
    (error) => showError(namespaces, error),
  );
  api("/api/v1/dead-letters").then(
    (/** @type {unknown[]} */ list) => {
      if (signal.aborted) return;
      fill(
        deadLetters,
        h(
          "p",
          {},
          list.length === 0
            ? "No alarm has failed every retry."
            : `${plural(list.length, "alarm")} failed every retry. `,
          list.length === 0 ? null : h("a", { href: route("dead-letters") }, "See them"),
        ),
      );
    },
    (error) => showError(deadLetters, error),
  );
}

function namespaceTable(/** @type {Namespace[]} */ list) {
  if (list.length === 0) {
    return h(
      "p",
      {},
      "No Durable Object class is recorded yet: classes appear once the app's migrations ran.",
    );
  }
  return h(
    "table",
    { class: "grid", id: "namespaces" },
    h("caption", { class: "visually-hidden" }, "Namespaces"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Class"),
        h("th", { scope: "col" }, "Storage name"),
        h("th", { scope: "col" }, "Storage"),
        h("th", { scope: "col", class: "number" }, "Objects"),
      ),
    ),
    h(
      "tbody",
      {},
      list.map((namespace) =>
        h(
          "tr",
          {},
          h(
            "th",
            { scope: "row" },
            h("a", { href: route("ns", namespace.className) }, namespace.className),
          ),
          h("td", {}, namespace.storageName),
          h("td", {}, namespace.backend === "sqlite" ? "SQLite" : "KV only"),
          h("td", { class: "number" }, count(namespace.objects)),
        ),
      ),
    ),
  );
}
