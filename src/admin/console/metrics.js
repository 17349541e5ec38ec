// Live charts of the server's `/metrics` (Prometheus text format), read every few seconds while
// the overview is open. Small SVG line charts drawn here; a server without metrics says so.

import { ApiError, api } from "./api.js";
import { fill, h, showError, svg } from "./dom.js";

/** How often the panel reads `/metrics`. */
const POLL_MS = 2000;
/** Points a chart keeps (two minutes at POLL_MS). */
const POINTS = 60;

/**
 * One sample line: `name{label="value",...} value`.
 * @typedef {{ name: string, labels: Record<string, string>, value: number }} Sample
 */

/**
 * What a chart shows: the sum of every series of the first metric present among `names`, as
 * it is ("gauge") or per second ("rate", for counters).
 * @typedef {{ title: string, kind: "gauge" | "rate", names: RegExp[], digits: number }} ChartSpec
 */

/** @type {ChartSpec[]} */
const CHARTS = [
  { title: "Requests/s", kind: "rate", names: [/^stead_http_requests_total$/], digits: 1 },
  { title: "Active objects", kind: "gauge", names: [/^stead_objects_active$/], digits: 0 },
  {
    title: "Open WebSockets",
    kind: "gauge",
    // The sockets objects hold (hibernatable and standard); without that metric, the front's.
    names: [/^stead_object_websockets_open$/, /^stead_http_websockets_open$/],
    digits: 0,
  },
  {
    title: "Commits/s",
    kind: "rate",
    names: [/^stead_storage_commit_duration_seconds_count$/],
    digits: 1,
  },
];

/**
 * The samples of a Prometheus text exposition (comments and blank lines skipped; a line that
 * does not parse is skipped too, so one odd line never blanks the panel).
 *
 * @param {string} text
 * @returns {Sample[]}
 */
export function parseMetrics(text) {
  /** @type {Sample[]} */
  const samples = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const sample = parseSample(trimmed);
    if (sample !== undefined) samples.push(sample);
  }
  return samples;
}

/** @returns {Sample | undefined} */
function parseSample(/** @type {string} */ line) {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (name === undefined) return undefined;
  let at = name.length;
  /** @type {Record<string, string>} */
  const labels = {};
  if (line[at] === "{") {
    at++;
    for (;;) {
      while (line[at] === " " || line[at] === ",") at++;
      if (line[at] === "}") {
        at++;
        break;
      }
      const label = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(at))?.[0];
      if (
        label === undefined ||
        line[at + label.length] !== "=" ||
        line[at + label.length + 1] !== '"'
      ) {
        return undefined;
      }
      at += label.length + 2;
      let value = "";
      while (at < line.length && line[at] !== '"') {
        if (line[at] === "\\") {
          at++;
          value += line[at] === "n" ? "\n" : (line[at] ?? "");
        } else {
          value += line[at];
        }
        at++;
      }
      if (line[at] !== '"') return undefined;
      at++;
      labels[label] = value;
    }
  }
  const [value] = line.slice(at).trim().split(/\s+/);
  const number =
    value === "+Inf"
      ? Number.POSITIVE_INFINITY
      : value === "-Inf"
        ? Number.NEGATIVE_INFINITY
        : Number(value);
  if (value === undefined || value === "" || (Number.isNaN(number) && value !== "NaN"))
    return undefined;
  return { name, labels, value: number };
}

/**
 * The value a chart plots from one reading: the sum of the first metric of `spec.names`
 * present, or undefined when none is.
 *
 * @param {ChartSpec} spec
 * @param {Sample[]} samples
 */
export function totalOf(spec, samples) {
  for (const pattern of spec.names) {
    const matching = samples.filter((sample) => pattern.test(sample.name));
    if (matching.length > 0) return matching.reduce((sum, sample) => sum + sample.value, 0);
  }
  return undefined;
}

/**
 * Fills `place` with the metric charts, read every POLL_MS until `signal` aborts. A server
 * without metrics (404) gets a note instead, and no more reads.
 *
 * @param {HTMLElement} place
 * @param {AbortSignal} signal
 */
export function metricsPanel(place, signal) {
  const charts = CHARTS.map((spec) => chart(spec));
  const status = h("p", { class: "muted", id: "metrics-status" }, "Reading /metrics…");
  /** @type {{ at: number, totals: (number | undefined)[] } | undefined} */
  let previous;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  signal.addEventListener("abort", () => clearTimeout(timer));

  const read = async () => {
    /** @type {string} */
    let text;
    try {
      text = await api("/metrics");
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status === 404) {
        fill(
          place,
          h(
            "p",
            { class: "note", id: "metrics-unavailable" },
            h("strong", {}, "Metrics not available. "),
            `${error.message} Charts appear here when the server serves /metrics.`,
          ),
        );
      } else {
        showError(place, error);
      }
      return;
    }
    if (signal.aborted) return;
    if (place.dataset.live === undefined) {
      place.dataset.live = "";
      fill(
        place,
        h(
          "div",
          { class: "charts" },
          charts.map((c) => c.figure),
        ),
        status,
      );
    }
    const at = performance.now();
    const samples = parseMetrics(text);
    const totals = CHARTS.map((spec) => totalOf(spec, samples));
    CHARTS.forEach((spec, index) => {
      const total = totals[index];
      const before = previous?.totals[index];
      const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
      const chartOf = /** @type {Chart} */ (charts[index]);
      if (total === undefined) chartOf.missing();
      else if (spec.kind === "gauge") chartOf.push(total);
      // A counter that went down was reset (a restart): no rate for that step.
      else if (before !== undefined && seconds > 0 && total >= before)
        chartOf.push((total - before) / seconds);
    });
    previous = { at, totals };
    status.textContent = `Read from /metrics every ${POLL_MS / 1000} s; last at ${new Date().toLocaleTimeString("en-GB")}.`;
    timer = setTimeout(read, POLL_MS);
  };
  read();
}

/**
 * One chart: its figure, and how a new point (or a missing metric) is shown.
 * @typedef {{ figure: HTMLElement, push(value: number): void, missing(): void }} Chart
 */

/** @returns {Chart} */
function chart(/** @type {ChartSpec} */ spec) {
  const width = 240;
  const height = 64;
  /** @type {number[]} */
  const points = [];
  const value = h("strong", { class: "chart-value" }, "…");
  const area = svg("path", { class: "chart-area", d: "" });
  const line = svg("path", { class: "chart-line", d: "" });
  const peak = h("span", { class: "chart-peak" }, "");
  const drawing = /** @type {SVGSVGElement} */ (
    svg(
      "svg",
      {
        viewBox: `0 0 ${width} ${height}`,
        preserveAspectRatio: "none",
        role: "img",
        "aria-label": `${spec.title}: no readings yet`,
      },
      svg("line", { class: "chart-axis", x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5 }),
      area,
      line,
    )
  );
  const figure = h(
    "figure",
    { class: "chart", "data-chart": spec.title },
    h("figcaption", {}, h("span", {}, spec.title), value),
    drawing,
    peak,
  );
  const format = (/** @type {number} */ n) => n.toFixed(spec.digits);
  return {
    figure,
    push(next) {
      points.push(next);
      if (points.length > POINTS) points.shift();
      const top = Math.max(1, ...points);
      // Spread over the width until the window fills; one reading is a flat line.
      const span = Math.max(points.length - 1, 1);
      const x = (/** @type {number} */ i) => ((i * width) / span).toFixed(1);
      const y = (/** @type {number} */ v) => (height - 2 - (v / top) * (height - 8)).toFixed(1);
      const shown = points.length === 1 ? [next, next] : points;
      const path = shown.map((v, i) => `${i === 0 ? "M" : "L"}${x(i)},${y(v)}`).join("");
      line.setAttribute("d", path);
      area.setAttribute("d", `${path}L${width},${height}L0,${height}Z`);
      peak.textContent = `scale 0–${format(top)}`;
      value.textContent = format(next);
      drawing.setAttribute(
        "aria-label",
        `${spec.title}: ${format(next)} now, at most ${format(Math.max(...points))} in the last two minutes`,
      );
    },
    missing() {
      value.textContent = "—";
      figure.classList.add("chart-missing");
      drawing.setAttribute("aria-label", `${spec.title}: not reported by this server`);
    },
  };
}
