// One object: what it holds (inspect), its KV entries and tables a page at a time, and a SQL
// editor. Every call is an event of the object on the server, so none interleaves with its work.

import { api, objectPath } from "./api.js";
import { bytes, count, fill, h, plural, route, showError, tabs, when } from "./dom.js";
import { grid, pager, range } from "./grid.js";

/**
 * What `GET .../objects/:object` answers.
 * @typedef {{
 *   id: string,
 *   name: string | null,
 *   databaseBytes: number,
 *   kv: { keys: number, bytes: number, first: { key: string, bytes: number }[] },
 *   tables: { name: string, rows: number }[],
 *   alarm: number | null,
 *   lastActivity?: number | null,
 *   webSockets: { hibernatable: number, standard: number },
 * }} Inspection
 * @typedef {{ columns: string[], rows: import("./grid.js").AdminValue[][], rowsRead: number, rowsWritten: number }} QueryResult
 * @typedef {{ entries: { key: string, bytes: number, preview: string }[], next: string | null }} KvPage
 */

/**
 * @param {import("./main.js").ViewContext} context
 * @param {string} className
 * @param {string} object its name or id
 */
export function objectView({ main, signal }, className, object) {
  const path = objectPath(className, object);
  const heading = h("h1", { tabindex: -1, class: "object-title" }, object);
  const crumb = h("span", { "aria-current": "page" }, object);
  const summary = h("div", { id: "summary" }, h("p", { class: "muted" }, "Loading…"));
  const kv = h("div", { id: "kv" });
  const tables = h("div", { id: "tables" });
  const sections = h("div", { hidden: true });

  const refresh = async () => {
    /** @type {Inspection} */
    const inspection = await api(path);
    if (signal.aborted) return;
    const title = inspection.name ?? inspection.id;
    heading.textContent = title;
    crumb.textContent = title;
    document.title = `${title} · ${className} · Stead console`;
    fill(
      summary,
      summaryOf(inspection),
      h("button", { type: "button", class: "secondary", onclick: () => reload() }, "Refresh"),
    );
    keysTab.textContent = `Keys (${count(inspection.kv.keys)})`;
    tablesTab.textContent = `Tables (${count(inspection.tables.length)})`;
    kvBrowser(kv, path, inspection.kv.keys, signal);
    tableBrowser(tables, path, inspection.tables, signal);
    sections.hidden = false;
  };
  const reload = () => refresh().catch((error) => showError(summary, error));

  const keysTab = h("span", {}, "Keys");
  const tablesTab = h("span", {}, "Tables");
  fill(
    sections,
    h(
      "section",
      { class: "card", "aria-label": "What the object holds" },
      tabs("What the object holds", [
        { id: "kv", label: keysTab, panel: kv },
        { id: "tables", label: tablesTab, panel: tables },
        { id: "sql", label: "SQL", panel: sqlEditor(path, reload) },
      ]),
    ),
  );
  fill(
    main,
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "#/" }, "Overview"),
      h("a", { href: route("ns", className) }, className),
      crumb,
    ),
    heading,
    h(
      "section",
      { class: "card", "aria-labelledby": "summary-heading" },
      h("h2", { id: "summary-heading" }, "Summary"),
      summary,
    ),
    sections,
  );
  reload();
}

function summaryOf(/** @type {Inspection} */ inspection) {
  /** @type {[string, Node | string][]} */
  const rows = [
    ["Name", inspection.name ?? "— (not recorded)"],
    ["Id", h("code", { class: "mono" }, inspection.id)],
    ["Database", bytes(inspection.databaseBytes)],
    ["Key-value storage", `${plural(inspection.kv.keys, "key")} · ${bytes(inspection.kv.bytes)}`],
    [
      "SQL tables",
      inspection.tables.length === 0
        ? "None"
        : h(
            "ul",
            { class: "plain" },
            inspection.tables.map((table) =>
              h("li", {}, h("code", {}, table.name), ` · ${plural(table.rows, "row")}`),
            ),
          ),
    ],
    ["Alarm", inspection.alarm === null ? "None set" : when(inspection.alarm)],
    [
      "Last activity",
      typeof inspection.lastActivity === "number"
        ? when(inspection.lastActivity)
        : "None since it last came into memory",
    ],
    [
      "WebSockets",
      `${count(inspection.webSockets.hibernatable)} hibernatable · ${count(inspection.webSockets.standard)} standard`,
    ],
  ];
  return h(
    "dl",
    { class: "summary" },
    rows.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))),
  );
}

/**
 * The object's KV entries in key order, a page at a time (`after` the last key shown).
 *
 * @param {HTMLElement} place
 * @param {string} path
 * @param {number} total
 * @param {AbortSignal} signal
 */
function kvBrowser(place, path, total, signal) {
  if (total === 0) {
    fill(place, h("p", {}, "No keys."));
    return;
  }
  /** The key each page starts after (undefined: the first page), up to the one shown. */
  /** @type {(string | undefined)[]} */
  let afters = [undefined];
  let size = 25;
  const load = async () => {
    const query = new URLSearchParams({ limit: String(size) });
    const after = afters.at(-1);
    if (after !== undefined) query.set("after", after);
    /** @type {KvPage} */
    const page = await api(`${path}/kv?${query}`);
    if (signal.aborted) return;
    fill(
      place,
      h(
        "div",
        { class: "grid-scroll", role: "region", "aria-label": "Keys", tabindex: 0 },
        h(
          "table",
          { class: "grid", id: "kv-table" },
          h("caption", { class: "visually-hidden" }, "Keys and values"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "Key"),
              h("th", { scope: "col", class: "number" }, "Size"),
              h("th", { scope: "col" }, "Value"),
            ),
          ),
          h(
            "tbody",
            {},
            page.entries.map((entry) =>
              h(
                "tr",
                {},
                h("td", { class: "mono" }, entry.key),
                h("td", { class: "number" }, bytes(entry.bytes)),
                h("td", { class: "mono preview", title: entry.preview }, entry.preview),
              ),
            ),
          ),
        ),
      ),
      pager({
        label: "Keys",
        status: range("Keys", (afters.length - 1) * size, page.entries.length, total),
        size,
        hasPrevious: afters.length > 1,
        hasNext: page.next !== null,
        onPrevious: () => {
          afters = afters.slice(0, -1);
          show();
        },
        onNext: () => {
          afters = [...afters, page.next ?? undefined];
          show();
        },
        onSize: (next) => {
          size = next;
          afters = [undefined];
          show();
        },
      }),
    );
  };
  const show = () => load().catch((error) => showError(place, error));
  show();
}

/**
 * The rows of one table at a time, a page at a time (`LIMIT ? OFFSET ?`).
 *
 * @param {HTMLElement} place
 * @param {string} path
 * @param {Inspection["tables"]} tables
 * @param {AbortSignal} signal
 */
function tableBrowser(place, path, tables, signal) {
  if (tables.length === 0) {
    fill(place, h("p", {}, "No SQL tables."));
    return;
  }
  let table = /** @type {Inspection["tables"][number]} */ (tables[0]);
  let offset = 0;
  let size = 25;
  const rows = h("div", { id: "table-rows" });
  const choose = h(
    "select",
    {
      id: "table-name",
      onchange: () => {
        table = tables.find((candidate) => candidate.name === choose.value) ?? table;
        offset = 0;
        show();
      },
    },
    tables.map((candidate) =>
      h(
        "option",
        { value: candidate.name },
        `${candidate.name} (${plural(candidate.rows, "row")})`,
      ),
    ),
  );
  const load = async () => {
    const { name } = table;
    /** @type {QueryResult} */
    const result = await api(`${path}/sql`, {
      method: "POST",
      body: {
        query: `SELECT * FROM "${name.replaceAll('"', '""')}" LIMIT ? OFFSET ?`,
        params: [size, offset],
        write: false,
      },
    });
    if (signal.aborted || name !== table.name) return;
    fill(
      rows,
      grid(`Rows of ${name}`, result.columns, result.rows, { numbered: offset + 1 }),
      pager({
        label: "Rows",
        status: range("Rows", offset, result.rows.length, table.rows),
        size,
        hasPrevious: offset > 0,
        hasNext: offset + result.rows.length < table.rows,
        onPrevious: () => {
          offset = Math.max(0, offset - size);
          show();
        },
        onNext: () => {
          offset += size;
          show();
        },
        onSize: (next) => {
          size = next;
          offset = 0;
          show();
        },
      }),
    );
  };
  const show = () => load().catch((error) => showError(rows, error));
  fill(
    place,
    h("div", { class: "inline" }, h("label", { for: "table-name" }, "Table"), choose),
    rows,
  );
  show();
}

/**
 * A query box with a results grid. Read-only unless "Allow writes" is checked: the server
 * refuses a statement that writes before anything runs.
 *
 * @param {string} path
 * @param {() => void} afterWrite
 */
function sqlEditor(path, afterWrite) {
  const query = h("textarea", {
    id: "sql-query",
    name: "query",
    rows: 5,
    spellcheck: "false",
    required: true,
    "aria-describedby": "sql-help",
    placeholder: "SELECT * FROM sqlite_master",
  });
  const params = h("input", {
    id: "sql-params",
    name: "params",
    spellcheck: "false",
    autocomplete: "off",
    placeholder: '["lobby", 42]',
    "aria-describedby": "params-help",
  });
  const write = h("input", { id: "sql-write", name: "write", type: "checkbox" });
  const run = h("button", { type: "submit" }, "Run");
  const result = h("div", { id: "sql-result", "aria-live": "polite" });
  const submit = async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    let values;
    try {
      values = params.value.trim() === "" ? [] : JSON.parse(params.value);
      if (!Array.isArray(values)) throw new Error("not a list");
    } catch {
      fill(
        result,
        h(
          "p",
          { class: "error", role: "alert" },
          'Parameters must be a JSON list, like ["lobby", 42].',
        ),
      );
      return;
    }
    run.disabled = true;
    const writes = write.checked;
    const started = performance.now();
    try {
      /** @type {QueryResult} */
      const answer = await api(`${path}/sql`, {
        method: "POST",
        body: { query: query.value, params: values, write: writes },
      });
      const ms = Math.round(performance.now() - started);
      fill(
        result,
        h(
          "p",
          { class: "query-status", role: "status" },
          `${plural(answer.rows.length, "row")} · ${count(answer.rowsRead)} read · ${count(answer.rowsWritten)} written · ${ms} ms`,
        ),
        answer.columns.length === 0 ? null : grid("Query results", answer.columns, answer.rows),
      );
      if (answer.rowsWritten > 0) afterWrite();
    } catch (error) {
      showError(result, error);
      const refused = /read-only unless writes are allowed/.test(
        String(/** @type {Error} */ (error).message),
      );
      if (refused && !writes) {
        result.append(h("p", { class: "help" }, "Check “Allow writes” to run it."));
      }
    } finally {
      run.disabled = false;
    }
  };
  query.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  const form = h(
    "form",
    { class: "sql", onsubmit: submit, id: "sql-form" },
    h("label", { for: "sql-query" }, "Query"),
    query,
    h(
      "p",
      { id: "sql-help", class: "help" },
      "The object's own SQL (no _cf_ tables, no BEGIN). Ctrl+Enter runs it.",
    ),
    h("label", { for: "sql-params" }, "Parameters"),
    params,
    h("p", { id: "params-help", class: "help" }, "Optional: a JSON list of the values for each ?."),
    h(
      "div",
      { class: "check" },
      write,
      h("label", { for: "sql-write" }, "Allow writes"),
      h(
        "span",
        { class: "help" },
        " Without it, a statement that would change data is refused and nothing runs.",
      ),
    ),
    h("div", {}, run),
  );
  return h("div", {}, form, result);
}
