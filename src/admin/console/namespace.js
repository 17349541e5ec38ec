// One class: open an object by name or id, search by name prefix, and its objects, a page at
// a time.

import { ApiError, api, objectsPath } from "./api.js";
import { fill, h, plural, route, showError } from "./dom.js";
import { pager, range } from "./grid.js";

/**
 * A page of `GET .../objects`.
 * @typedef {{ objects: { id: string, name: string | null }[], total: number, cursor: string | null }} ObjectPage
 */

/**
 * @param {import("./main.js").ViewContext} context
 * @param {string} className
 */
export function namespaceView({ main, signal }, className) {
  /** The cursor each page starts at (undefined: the first), up to the one shown. */
  /** @type {(string | undefined)[]} */
  let starts = [undefined];
  let size = 50;
  let prefix = "";
  const summary = h("p", { class: "muted", id: "object-total" }, "Loading…");
  const list = h("div", { id: "object-list" });
  const searchNote = h("div", { id: "search-note" });

  const load = async () => {
    const query = new URLSearchParams({ limit: String(size) });
    const cursor = starts.at(-1);
    if (cursor !== undefined) query.set("cursor", cursor);
    if (prefix !== "") query.set("prefix", prefix);
    /** @type {ObjectPage} */
    const page = await api(`${objectsPath(className)}?${query}`);
    if (signal.aborted) return;
    summary.textContent =
      prefix === ""
        ? `${plural(page.total, "object")} stored.`
        : `${plural(page.total, "object")} named ${JSON.stringify(prefix)}…`;
    const offset = (starts.length - 1) * size;
    fill(
      list,
      objectTable(className, page.objects),
      pager({
        label: "Objects",
        status: range("Objects", offset, page.objects.length, page.total),
        size,
        hasPrevious: starts.length > 1,
        hasNext: page.cursor !== null,
        onPrevious: () => {
          starts = starts.slice(0, -1);
          show();
        },
        onNext: () => {
          starts = [...starts, page.cursor ?? undefined];
          show();
        },
        onSize: (next) => {
          size = next;
          starts = [undefined];
          show();
        },
      }),
    );
  };
  const show = () => load().catch((error) => showError(list, error));

  const openInput = h("input", {
    id: "open-object",
    name: "object",
    required: true,
    spellcheck: "false",
    autocomplete: "off",
    "aria-describedby": "open-help",
  });
  const open = (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    const object = openInput.value.trim();
    if (object !== "") location.hash = route("ns", className, "obj", object);
  };

  const searchInput = h("input", {
    id: "search-prefix",
    name: "prefix",
    type: "search",
    spellcheck: "false",
    autocomplete: "off",
  });
  const search = async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    const wanted = searchInput.value.trim();
    searchNote.replaceChildren();
    const before = { prefix, starts };
    prefix = wanted;
    starts = [undefined];
    try {
      await load();
    } catch (error) {
      prefix = before.prefix;
      starts = before.starts;
      if (error instanceof ApiError && error.status === 400) {
        fill(
          searchNote,
          h(
            "div",
            { class: "note", role: "status" },
            h("p", {}, h("strong", {}, "Search by name is not available here. "), error.message),
            h("p", {}, "Open an object by its exact name or id above instead."),
          ),
        );
      } else {
        showError(searchNote, error);
      }
    }
  };

  fill(
    main,
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "#/" }, "Overview"),
      h("span", { "aria-current": "page" }, className),
    ),
    h("h1", { tabindex: -1 }, className),
    summary,
    h(
      "section",
      { class: "card", "aria-labelledby": "find-heading" },
      h("h2", { id: "find-heading" }, "Find an object"),
      h(
        "div",
        { class: "forms" },
        h(
          "form",
          { class: "inline", onsubmit: open, id: "open-form" },
          h("label", { for: "open-object" }, "Name or id"),
          openInput,
          h("button", { type: "submit" }, "Open"),
          h(
            "p",
            { id: "open-help", class: "help" },
            "The name given to idFromName / getByName, or the 64-hex id.",
          ),
        ),
        h(
          "form",
          { class: "inline", onsubmit: search, id: "search-form", role: "search" },
          h("label", { for: "search-prefix" }, "Name starts with"),
          searchInput,
          h("button", { type: "submit", class: "secondary" }, "Search"),
        ),
      ),
      searchNote,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "objects-heading" },
      h("h2", { id: "objects-heading" }, "Objects"),
      list,
    ),
  );
  show();
}

function objectTable(
  /** @type {string} */ className,
  /** @type {ObjectPage["objects"]} */ objects,
) {
  if (objects.length === 0) return h("p", {}, "No objects.");
  return h(
    "div",
    { class: "grid-scroll" },
    h(
      "table",
      { class: "grid" },
      h("caption", { class: "visually-hidden" }, `Objects of ${className}`),
      h(
        "thead",
        {},
        h("tr", {}, h("th", { scope: "col" }, "Id"), h("th", { scope: "col" }, "Name")),
      ),
      h(
        "tbody",
        {},
        objects.map(({ id, name }) =>
          h(
            "tr",
            {},
            h("td", {}, h("a", { href: route("ns", className, "obj", id), class: "mono" }, id)),
            name === null
              ? h("td", { class: "muted", title: "This storage does not record names" }, "—")
              : h("td", {}, name),
          ),
        ),
      ),
    ),
  );
}
