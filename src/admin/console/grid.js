// Tables of rows (query results, KV entries, object lists) and the pager under them.

import { count, h } from "./dom.js";

/** Rows a grid shows at most; a query answering more says so. */
export const MAX_GRID_ROWS = 1000;

/**
 * A value as the admin API sends it: text, a number, null, or a BLOB as `{ base64 }`.
 * @typedef {string | number | null | { base64: string }} AdminValue
 */

/** One cell of a grid. */
export function cell(/** @type {AdminValue} */ value) {
  if (value === null) return h("td", { class: "null" }, "NULL");
  if (typeof value === "number") return h("td", { class: "number" }, String(value));
  if (typeof value === "object") {
    const size =
      Math.floor((value.base64.length * 3) / 4) - (value.base64.match(/=+$/)?.[0].length ?? 0);
    return h("td", { class: "blob", title: value.base64 }, `BLOB · ${count(size)} bytes`);
  }
  return h("td", { title: value.length > 80 ? value : null }, value);
}

/**
 * A scrollable table of `rows` under `columns`, labelled `label` (the region is focusable, so
 * a keyboard scrolls it too).
 *
 * @param {string} label
 * @param {string[]} columns
 * @param {AdminValue[][]} rows
 * @param {{ numbered?: number }} [options] `numbered`: show row numbers from this one.
 */
export function grid(label, columns, rows, options = {}) {
  const shown = rows.slice(0, MAX_GRID_ROWS);
  const first = options.numbered;
  const table = h(
    "table",
    { class: "grid" },
    h("caption", { class: "visually-hidden" }, label),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        first === undefined ? null : h("th", { scope: "col", class: "number row-number" }, "#"),
        columns.map((column, index) =>
          h("th", { scope: "col", class: numeric(shown, index) ? "number" : null }, column),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      shown.map((row, index) =>
        h(
          "tr",
          {},
          first === undefined
            ? null
            : h("td", { class: "number row-number muted" }, String(first + index)),
          row.map(cell),
        ),
      ),
    ),
  );
  return h(
    "div",
    { class: "grid-scroll", role: "region", "aria-label": label, tabindex: 0 },
    table,
    rows.length > shown.length
      ? h(
          "p",
          { class: "muted" },
          `Showing the first ${count(shown.length)} of ${count(rows.length)} rows.`,
        )
      : null,
  );
}

/** Whether column `index` holds numbers (and NULLs) only: its heading aligns with them. */
function numeric(/** @type {AdminValue[][]} */ rows, /** @type {number} */ index) {
  let numbers = 0;
  for (const row of rows) {
    const value = row[index];
    if (typeof value === "number") numbers++;
    else if (value !== null) return false;
  }
  return numbers > 0;
}

/**
 * The controls under a paged list: where the page is, Previous / Next, and the page size.
 *
 * @param {{
 *   label: string,
 *   status: string,
 *   size: number,
 *   sizes?: number[],
 *   hasPrevious: boolean,
 *   hasNext: boolean,
 *   onPrevious: () => void,
 *   onNext: () => void,
 *   onSize: (size: number) => void,
 * }} options
 */
export function pager(options) {
  const id = `size-${options.label.toLowerCase().replaceAll(/[^a-z0-9]+/g, "-")}`;
  const sizes = options.sizes ?? [10, 25, 50, 100];
  return h(
    "nav",
    { class: "pager", "aria-label": `${options.label} pages` },
    h("span", { class: "pager-status", "aria-live": "polite" }, options.status),
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        disabled: !options.hasPrevious,
        onclick: options.onPrevious,
      },
      "Previous",
    ),
    h(
      "button",
      { type: "button", class: "secondary", disabled: !options.hasNext, onclick: options.onNext },
      "Next",
    ),
    h("label", { for: id }, "Per page"),
    h(
      "select",
      {
        id,
        onchange: (/** @type {Event} */ event) =>
          options.onSize(Number(/** @type {HTMLSelectElement} */ (event.target).value)),
      },
      sizes.map((size) =>
        h("option", { value: size, selected: size === options.size }, String(size)),
      ),
    ),
  );
}

/** "Rows 1–25 of 45"; "No rows" when empty. */
export function range(
  /** @type {string} */ what,
  /** @type {number} */ offset,
  /** @type {number} */ shown,
  /** @type {number | undefined} */ total,
) {
  if (shown === 0)
    return offset === 0 ? `No ${what.toLowerCase()}` : `No more ${what.toLowerCase()}`;
  const of = total === undefined ? "" : ` of ${count(total)}`;
  return `${what} ${count(offset + 1)}–${count(offset + shown)}${of}`;
}
