/**
 * The path patterns of `_headers`, `_redirects` and `run_worker_first`: `*` matches anything
 * (and is `:splat` in a replacement), `:name` one path segment (in a host, one label), and a
 * pattern that starts with `https://host` matches that host too.
 */

const REGEX_SPECIALS = /[-/\\^$*+?.()|[\]{}]/g;
const PATH_PLACEHOLDER = /:([A-Za-z]\w*)/g;

function escapeRegex(text: string): string {
  return text.replace(REGEX_SPECIALS, "\\$&");
}

/** A compiled `_headers` / `_redirects` pattern. */
export interface RulePattern {
  /** Matches against `https://<host><path>` rather than the path alone. */
  readonly withHost: boolean;
  readonly regex: RegExp;
}

export function compileRulePattern(rule: string): RulePattern {
  const withHost = rule.startsWith("https://");
  let hostEnd = 0;
  if (withHost) {
    const slash = rule.indexOf("/", "https://".length);
    hostEnd = slash === -1 ? rule.length : slash;
  }
  const source = rule
    .split("*")
    .map((part, index, parts) => {
      // Placeholders are found in the raw text, then the rest is escaped around them.
      const offset = parts.slice(0, index).reduce((sum, p) => sum + p.length + 1, 0);
      let out = "";
      let last = 0;
      for (const match of part.matchAll(PATH_PLACEHOLDER)) {
        const at = match.index;
        out += escapeRegex(part.slice(last, at));
        const inHost = withHost && offset + at < hostEnd;
        out += `(?<${match[1]}>${inHost ? "[^/.]+" : "[^/]+"})`;
        last = at + match[0].length;
      }
      return out + escapeRegex(part.slice(last));
    })
    .join("(?<splat>.*)");
  return { withHost, regex: new RegExp(`^${source}$`) };
}

/** The placeholders a pattern captured from `url`, or undefined when it does not match. */
export function matchRule(pattern: RulePattern, url: URL): Record<string, string> | undefined {
  const subject = pattern.withHost ? `https://${url.hostname}${url.pathname}` : url.pathname;
  const match = pattern.regex.exec(subject);
  if (match === null) return undefined;
  return { ...match.groups };
}

/** `text` with every `:name` replaced by what the pattern captured. */
export function fillPlaceholders(text: string, captured: Record<string, string>): string {
  let out = text;
  for (const [name, value] of Object.entries(captured)) {
    if (value !== undefined) out = out.replaceAll(`:${name}`, value);
  }
  return out;
}

/** A `run_worker_first` pattern: only `*`, matched against the path. */
export function compileRoutePattern(rule: string): RegExp {
  return new RegExp(`^${rule.split("*").map(escapeRegex).join(".*")}$`);
}
