// The console's entry: sign-in, the page's frame and its routes (`#/`, `#/ns/<class>`,
// `#/ns/<class>/obj/<name or id>`, `#/dead-letters`). The token comes from the sign-in form or
// from the address's fragment (`#token=...`, as `stead start` logs the link), and is kept in
// this tab's sessionStorage only.

import {
  api,
  forgetToken,
  storedToken,
  storeToken,
  Unauthorized,
  whenUnauthorized,
} from "./api.js";
import { deadLettersView } from "./dead-letters.js";
import { fill, h } from "./dom.js";
import { namespaceView } from "./namespace.js";
import { objectView } from "./object.js";
import { overviewView } from "./overview.js";

/**
 * What a view is given: where it renders, and a signal aborted when the console leaves it (it
 * then stops polling, and drops answers that arrive late).
 * @typedef {{ main: HTMLElement, signal: AbortSignal }} ViewContext
 */

const app = /** @type {HTMLElement} */ (document.getElementById("app"));

/** @type {AbortController | undefined} */
let current;

/** Ends the view on screen: its polling stops, its late answers are dropped. */
function leaveView() {
  current?.abort();
  current = undefined;
}

/** A `#token=...` fragment signs in, and leaves the address bar (and history) at once. */
function takeFragmentToken() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (match === null) return;
  storeToken(decodeURIComponent(match[1] ?? ""));
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
}

/** The sign-in form; `message` says why it is back (a refused token). */
function showSignIn(/** @type {string | undefined} */ message) {
  leaveView();
  document.body.dataset.view = "sign-in";
  document.title = "Sign in · Stead console";
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-help",
  });
  const error = h("p", { id: "sign-in-error", class: "error", role: "alert" }, message ?? "");
  error.hidden = message === undefined;
  const button = h("button", { type: "submit" }, "Sign in");
  const signIn = async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token === "") return;
    button.disabled = true;
    error.hidden = true;
    try {
      await api("/api/v1/namespaces", { token });
      storeToken(token);
      showConsole(true);
    } catch (failure) {
      error.textContent =
        failure instanceof Unauthorized
          ? "The server refused this token. Check it and try again."
          : String(/** @type {Error} */ (failure).message);
      error.hidden = false;
      input.select();
    } finally {
      button.disabled = false;
    }
  };
  fill(
    app,
    h(
      "main",
      { class: "sign-in-page" },
      h(
        "form",
        { class: "card sign-in", onsubmit: signIn, "aria-labelledby": "sign-in-heading" },
        h("h1", { id: "sign-in-heading" }, "Stead console"),
        h("label", { for: "token" }, "Admin token"),
        input,
        h(
          "p",
          { id: "token-help", class: "help" },
          "The server's STEAD_ADMIN_TOKEN (or STEAD_ADMIN_READ_TOKEN, to only read), or the token it wrote to ",
          h("code", {}, "<data dir>/admin.json"),
          ". It is kept in this tab until it closes.",
        ),
        error,
        button,
      ),
    ),
  );
  input.focus();
}

/** The page's frame (header, navigation, main) and the view the address names. */
function showConsole(/** @type {boolean} */ moveFocus) {
  const signOut = () => {
    forgetToken();
    showSignIn(undefined);
  };
  fill(
    app,
    h(
      "header",
      { class: "top" },
      h("a", { class: "brand", href: "#/" }, "Stead"),
      h(
        "nav",
        { "aria-label": "Console" },
        h("a", { href: "#/", "data-nav": "overview" }, "Overview"),
        h("a", { href: "#/dead-letters", "data-nav": "dead-letters" }, "Dead letters"),
      ),
      h("button", { type: "button", class: "quiet", onclick: signOut }, "Sign out"),
    ),
    h("main", { id: "main", tabindex: -1 }),
  );
  showView(moveFocus);
}

/** Renders the view of the current address into the frame. */
function showView(/** @type {boolean} */ moveFocus) {
  const main = app.querySelector("main#main");
  if (!(main instanceof HTMLElement)) return;
  leaveView();
  current = new AbortController();
  const context = { main, signal: current.signal };
  const [view, ...params] = routeOf(location.hash);
  document.body.dataset.view = view;
  for (const link of app.querySelectorAll("[data-nav]")) {
    const here = link.getAttribute("data-nav") === (view === "dead-letters" ? view : "overview");
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view === "overview") overviewView(context);
  else if (view === "namespace") namespaceView(context, params[0] ?? "");
  else if (view === "object") objectView(context, params[0] ?? "", params[1] ?? "");
  else if (view === "dead-letters") deadLettersView(context);
  else {
    fill(
      main,
      h("h1", { tabindex: -1 }, "Not found"),
      h("p", {}, "The console has no page at this address. ", h("a", { href: "#/" }, "Overview")),
    );
  }
  const heading = main.querySelector("h1");
  document.title = `${heading?.textContent ?? "Stead"} · Stead console`;
  if (moveFocus) heading?.focus();
}

/** @returns {string[]} the view and its parameters. */
function routeOf(/** @type {string} */ hash) {
  let parts;
  try {
    parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    return ["not-found"];
  }
  if (parts.length === 0) return ["overview"];
  if (parts[0] === "dead-letters" && parts.length === 1) return ["dead-letters"];
  if (parts[0] === "ns" && parts.length === 2) return ["namespace", parts[1] ?? ""];
  if (parts[0] === "ns" && parts[2] === "obj" && parts.length === 4) {
    return ["object", parts[1] ?? "", parts[3] ?? ""];
  }
  return ["not-found"];
}

// Several calls in flight may be refused together: the form is shown once.
whenUnauthorized(() => {
  if (document.body.dataset.view !== "sign-in") {
    showSignIn("The server refused the token. Sign in again.");
  }
});

window.addEventListener("hashchange", () => {
  takeFragmentToken();
  if (storedToken() === null) showSignIn(undefined);
  else if (app.querySelector("main#main") === null) showConsole(true);
  else showView(true);
});

takeFragmentToken();
if (storedToken() === null) showSignIn(undefined);
else showConsole(false);
