// Building the page: elements made with text nodes only (no HTML strings, so nothing an object
// holds is ever parsed as markup), and the few formats the views share.

import { ApiError, Unauthorized } from "./api.js";

/**
 * @typedef {Node | string | number | null | undefined | false} Child
 * @typedef {Record<string, unknown>} Attributes
 *   `on<event>`: a listener; `true`: a boolean attribute; null, undefined, false: left out.
 */

/**
 * An HTML element with `attributes` and `children`.
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attributes} [attributes]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  decorate(element, attributes, children);
  return element;
}

/**
 * An SVG element (charts).
 *
 * @param {string} tag
 * @param {Attributes} [attributes]
 * @param {...(Child | Child[])} children
 * @returns {SVGElement}
 */
export function svg(tag, attributes = {}, ...children) {
  const element = /** @type {SVGElement} */ (
    document.createElementNS("http://www.w3.org/2000/svg", tag)
  );
  decorate(element, attributes, children);
  return element;
}

/**
 * @param {Element} element
 * @param {Attributes} attributes
 * @param {(Child | Child[])[]} children
 */
function decorate(element, attributes, children) {
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "number" ? String(child) : child);
  }
}

/** Replaces what `parent` holds with `children`. */
export function fill(
  /** @type {Element} */ parent,
  /** @type {(Child | Child[])[]} */ ...children
) {
  parent.replaceChildren();
  decorate(parent, {}, children);
}

/**
 * Shows a failed call in `place` (an alert the screen reader announces), unless the token was
 * refused: the sign-in form then replaces the page.
 */
export function showError(/** @type {Element} */ place, /** @type {unknown} */ error) {
  if (error instanceof Unauthorized) return;
  const message =
    error instanceof ApiError || error instanceof Error ? error.message : String(error);
  fill(place, h("p", { class: "error", role: "alert" }, message));
}

const COUNT = new Intl.NumberFormat("en");

/** 12,345 */
export function count(/** @type {number} */ n) {
  return COUNT.format(n);
}

/** `1`, `object` → "1 object"; `2`, `object` → "2 objects". */
export function plural(
  /** @type {number} */ n,
  /** @type {string} */ one,
  /** @type {string} */ many = `${one}s`,
) {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** 1536 → "1.5 KiB" */
export function bytes(/** @type {number} */ n) {
  if (n < 1024) return plural(n, "byte");
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = "";
  for (const next of units) {
    value /= 1024;
    unit = next;
    if (value < 1024) break;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${unit}`;
}

/** An epoch-ms time as local date and time, with how far from now it is. */
export function when(/** @type {number} */ ms) {
  const date = new Date(ms);
  const seconds = Math.round((ms - Date.now()) / 1000);
  const size = Math.abs(seconds);
  const [amount, unit] =
    size < 90
      ? [seconds, "second"]
      : size < 5400
        ? [Math.round(seconds / 60), "minute"]
        : size < 129_600
          ? [Math.round(seconds / 3600), "hour"]
          : [Math.round(seconds / 86_400), "day"];
  const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" }).format(
    amount,
    /** @type {Intl.RelativeTimeFormatUnit} */ (unit),
  );
  return `${date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" })} (${relative})`;
}

/** A console route, as a link target: `route("ns", "Room")` → `#/ns/Room`. */
export function route(/** @type {string[]} */ ...parts) {
  return `#/${parts.map(encodeURIComponent).join("/")}`;
}

/**
 * Tabs (the WAI-ARIA pattern): one panel shown at a time; arrow keys, Home and End move
 * between the tabs.
 *
 * @param {string} label
 * @param {{ id: string, label: Node | string, panel: Node }[]} items
 */
export function tabs(label, items) {
  /** @type {HTMLButtonElement[]} */
  const buttons = [];
  /** @type {HTMLElement[]} */
  const panels = [];
  const select = (/** @type {number} */ chosen, /** @type {boolean} */ focus) => {
    buttons.forEach((button, index) => {
      const selected = index === chosen;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      /** @type {HTMLElement} */ (panels[index]).hidden = !selected;
      if (selected && focus) button.focus();
    });
  };
  items.forEach((item, index) => {
    buttons.push(
      h(
        "button",
        {
          type: "button",
          role: "tab",
          id: `tab-${item.id}`,
          "aria-controls": `panel-${item.id}`,
          onclick: () => select(index, false),
          onkeydown: (/** @type {KeyboardEvent} */ event) => {
            const last = items.length - 1;
            const next =
              event.key === "ArrowRight"
                ? index === last
                  ? 0
                  : index + 1
                : event.key === "ArrowLeft"
                  ? index === 0
                    ? last
                    : index - 1
                  : event.key === "Home"
                    ? 0
                    : event.key === "End"
                      ? last
                      : undefined;
            if (next === undefined) return;
            event.preventDefault();
            select(next, true);
          },
        },
        item.label,
      ),
    );
    panels.push(
      h(
        "div",
        {
          role: "tabpanel",
          id: `panel-${item.id}`,
          "aria-labelledby": `tab-${item.id}`,
          class: "tab-panel",
        },
        item.panel,
      ),
    );
  });
  select(0, false);
  return h(
    "div",
    { class: "tabs" },
    h("div", { role: "tablist", "aria-label": label }, buttons),
    panels,
  );
}
