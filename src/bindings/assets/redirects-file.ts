import { rulePath } from "./headers-file.ts";
import {
  compileRulePattern,
  fillPlaceholders,
  matchRule,
  type RulePattern,
} from "./rule-pattern.ts";

/** Limits of `_redirects`, as on Cloudflare. */
const MAX_STATIC_RULES = 2000;
const MAX_DYNAMIC_RULES = 100;
const MAX_LINE_LENGTH = 2000;
const STATUSES = new Set([200, 301, 302, 303, 307, 308]);

export interface RedirectRule {
  readonly from: string;
  readonly to: string;
  readonly status: number;
  readonly line: number;
}

export interface ParsedRedirects {
  /** Rules without `*` or `:name`, by their `from` (checked first, in O(1)). */
  readonly exact: ReadonlyMap<string, RedirectRule>;
  /** The other rules, in file order. */
  readonly dynamic: readonly (RedirectRule & { readonly pattern: RulePattern })[];
  /** One line per line that was skipped, saying why. */
  readonly problems: readonly string[];
}

/** A `_redirects` match: where to go and with which status (200: serve `to` in place). */
export interface RedirectMatch {
  readonly to: string;
  readonly status: number;
}

/**
 * Parses a `_redirects` file: `from to [status]` per line (status 301, 302 (the default), 303,
 * 307, 308, or 200 to serve another path in place). At most 2,000 static and 100 dynamic rules
 * (static ones count only before the first dynamic one), lines of 2,000 characters; a rule that
 * would loop (`/* /index.html`), a duplicate, or a 200 to another host is skipped and named in
 * `problems`, as on Cloudflare.
 */
export function parseRedirectsFile(text: string, htmlHandlingOn: boolean): ParsedRedirects {
  const exact = new Map<string, RedirectRule>();
  const dynamic: (RedirectRule & { pattern: RulePattern })[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const lines = text.split("\n");
  let statics = 0;
  let staticAllowed = true;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const n = i + 1;
    if (line === "" || line.startsWith("#")) continue;
    if (line.length > MAX_LINE_LENGTH) {
      problems.push(`line ${n}: longer than ${MAX_LINE_LENGTH} characters; ignored`);
      continue;
    }
    const tokens = line.replace(/\s+#.*$/, "").split(/\s+/);
    if (tokens.length < 2 || tokens.length > 3) {
      problems.push(`line ${n}: expected "from to [status]", got ${tokens.length} tokens`);
      continue;
    }
    const [rawFrom, rawTo, rawStatus = "302"] = tokens as [string, string, string?];
    if (/^https:\/\//.test(rawFrom)) {
      problems.push(`line ${n}: ${rawFrom}: only relative paths can be redirected from`);
      continue;
    }
    const from = rulePath(rawFrom.startsWith("/") ? rawFrom : `/${rawFrom}`);
    if (from === undefined) {
      problems.push(`line ${n}: ${rawFrom}: not a path`);
      continue;
    }
    const isDynamic = from.includes("*") || /:[A-Za-z]\w*/.test(from);
    if (staticAllowed && !isDynamic) {
      if (++statics > MAX_STATIC_RULES) {
        problems.push(`line ${n}: more than ${MAX_STATIC_RULES} static rules; ignored`);
        continue;
      }
    } else {
      staticAllowed = false;
      if (dynamic.length >= MAX_DYNAMIC_RULES) {
        problems.push(
          `line ${n}: more than ${MAX_DYNAMIC_RULES} dynamic rules; the remaining ${lines.length - i} lines are ignored`,
        );
        break;
      }
    }
    const to = redirectTarget(rawTo);
    if (to === undefined) {
      problems.push(`line ${n}: ${rawTo}: a target must be a path or an https:// URL`);
      continue;
    }
    const status = Number(rawStatus);
    if (!STATUSES.has(status)) {
      problems.push(
        `line ${n}: valid status codes are 200, 301, 302 (default), 303, 307, or 308, not ${rawStatus}`,
      );
      continue;
    }
    const relative = to.startsWith("/");
    const toIndex = /\/index(\.html)?$/.test(to);
    if (relative && toIndex && (from.endsWith("/*") || (from.endsWith("/") && htmlHandlingOn))) {
      problems.push(
        `line ${n}: ${line}: this rule would redirect forever (the asset server strips /index.html and the rule matches again); ignored`,
      );
      continue;
    }
    if (seen.has(from)) {
      problems.push(`line ${n}: a second rule for ${from}; ignored`);
      continue;
    }
    seen.add(from);
    if (status === 200 && !relative) {
      problems.push(`line ${n}: a 200 (rewrite) rule can only point to a path, not ${to}`);
      continue;
    }
    const rule = { from, to, status, line: n };
    if (isDynamic) dynamic.push({ ...rule, pattern: compileRulePattern(from) });
    else exact.set(from, rule);
  }
  return { exact, dynamic, problems };
}

/** The first rule matching `url`: exact rules first, then the dynamic ones in file order. */
export function findRedirect(redirects: ParsedRedirects, url: URL): RedirectMatch | undefined {
  const exact = redirects.exact.get(url.pathname);
  if (exact !== undefined) return { to: exact.to, status: exact.status };
  for (const rule of redirects.dynamic) {
    const captured = matchRule(rule.pattern, url);
    if (captured === undefined) continue;
    const to = fillPlaceholders(rule.to, captured).trim();
    return { to: /^\w+:\/\//.test(to) ? to : to.replace(/\/+/g, "/"), status: rule.status };
  }
  return undefined;
}

function redirectTarget(token: string): string | undefined {
  const absolute = /^https:\/\/+([^/]+)\/?(.*)$/.exec(token);
  if (absolute !== null) {
    const url = new URL(
      `//${absolute[2]!.startsWith("/") ? "" : "/"}${absolute[2]}`,
      "relative://",
    );
    return `https://${absolute[1]}${url.pathname}${url.search}${url.hash}`;
  }
  if (!token.startsWith("/")) return undefined;
  const url = new URL(`//${token}`, "relative://");
  return `${url.pathname}${url.search}${url.hash}`;
}
