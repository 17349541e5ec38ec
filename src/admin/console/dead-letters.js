// Alarms that failed every retry (newest first), each linked to its object, retried (its alarm
// set to now, through the object) or discarded for good.

import { api, objectPath } from "./api.js";
import { count, fill, h, plural, route, showError, when } from "./dom.js";

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
  const outcome = h("div", { id: "dead-letter-outcome", "aria-live": "polite" });

  const load = async () => {
    /** @type {[import("./overview.js").Namespace[], DeadLetter[]]} */
    const [namespaces, letters] = await Promise.all([
      api("/api/v1/namespaces"),
      api("/api/v1/dead-letters"),
    ]);
    if (signal.aborted) return;
    const classOf = new Map(namespaces.map((n) => [n.storageName, n.className]));
    fill(
      list,
      letters.length === 0
        ? h("p", {}, "No alarm has failed every retry.")
        : table(letters, classOf, act),
    );
  };
  const show = () => load().catch((error) => showError(list, error));

  /**
   * Retries or discards the dead letters of one object, then shows what happened.
   * @param {"retry" | "discard"} action
   * @param {string} className
   * @param {DeadLetter} letter
   */
  const act = async (action, className, letter) => {
    const label = `${className} ${letter.name ?? letter.id}`;
    try {
      /** @type {{ retried?: number, discarded?: number }} */
      const answer = await api(`${objectPath(className, letter.id)}/dead-letters/${action}`, {
        method: "POST",
      });
      if (signal.aborted) return;
      fill(
        outcome,
        h(
          "p",
          { class: "note", role: "status" },
          action === "retry"
            ? `Retried ${label}: its alarm runs now (${plural(answer.retried ?? 0, "dead letter")} cleared).`
            : `Discarded ${plural(answer.discarded ?? 0, "dead letter")} of ${label}.`,
        ),
      );
    } catch (error) {
      showError(outcome, error);
    }
    show();
  };

  fill(
    main,
    h("h1", { tabindex: -1 }, "Dead letters"),
    h(
      "p",
      { class: "muted" },
      "Alarms that failed every retry and were given up, newest first. Retry sets the object's alarm to now (fix the cause first); Discard drops its dead letters for good.",
    ),
    outcome,
    h("section", { class: "card", "aria-label": "Dead-lettered alarms" }, list),
  );
  show();
}

/**
 * @param {DeadLetter[]} letters
 * @param {Map<string, string>} classOf class names by storage name
 * @param {(action: "retry" | "discard", className: string, letter: DeadLetter) => Promise<void>} act
 */
function table(letters, classOf, act) {
  return h(
    "div",
    { class: "grid-scroll" },
    h(
      "table",
      { class: "grid wrapping" },
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
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
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
            h("td", { class: "actions" }, actions(className, letter, act)),
          );
        }),
      ),
    ),
  );
}

/**
 * Retry, and Discard behind a confirmation (a discarded alarm does not come back).
 * @param {string} className
 * @param {DeadLetter} letter
 * @param {(action: "retry" | "discard", className: string, letter: DeadLetter) => Promise<void>} act
 */
function actions(className, letter, act) {
  const label = `${className} ${letter.name ?? letter.id}`;
  const place = h("div", { class: "row-actions" });
  const run = (/** @type {"retry" | "discard"} */ action) => () => {
    for (const button of place.querySelectorAll("button")) button.disabled = true;
    act(action, className, letter);
  };
  const ask = () => {
    const confirm = h(
      "button",
      { type: "button", class: "danger", onclick: run("discard") },
      "Discard for good",
    );
    fill(
      place,
      h("span", {}, `Discard the dead letters of ${letter.name ?? "this object"}?`),
      confirm,
      h("button", { type: "button", class: "secondary", onclick: offer }, "Cancel"),
    );
    confirm.focus();
  };
  const offer = () => {
    fill(
      place,
      h(
        "button",
        { type: "button", onclick: run("retry"), "aria-label": `Retry ${label}` },
        "Retry",
      ),
      h(
        "button",
        { type: "button", class: "secondary", onclick: ask, "aria-label": `Discard ${label}` },
        "Discard",
      ),
    );
  };
  offer();
  return place;
}
