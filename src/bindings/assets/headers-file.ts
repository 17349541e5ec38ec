import { compileRulePattern, type RulePattern } from "./rule-pattern.ts";

/** Limits of `_headers`, as on Cloudflare. */
const MAX_RULES = 100;
const MAX_LINE_LENGTH = 2000;

/** One `_headers` rule: headers set on, and removed from, responses to matching paths. */
export interface HeadersRule {
  readonly path: string;
  readonly pattern: RulePattern;
  /** Header names (lower case) and values; a name given twice has its values joined by ", ". */
  readonly set: Readonly<Record<string, string>>;
  /** Headers removed: the `! Name` lines. */
  readonly unset: readonly string[];
}

export interface ParsedHeaders {
  readonly rules: readonly HeadersRule[];
  /** One line per line that was skipped, saying why. */
  readonly problems: readonly string[];
}

const LOOKS_LIKE_PATH = /^([^\s]+:\/\/|\/)/;

/**
 * Parses a `_headers` file: a path pattern on a line of its own, then indented `Name: value`
 * lines (or `! Name` to remove a header) for that pattern. At most 100 rules and lines of 2,000
 * characters, as on Cloudflare; a bad line is skipped and named in `problems`.
 */
export function parseHeadersFile(text: string): ParsedHeaders {
  const rules: HeadersRule[] = [];
  const problems: string[] = [];
  const lines = text.split("\n");
  let current: { path: string; set: Record<string, string>; unset: string[] } | undefined;
  let skipping = false;
  const finish = (lineNumber: number) => {
    if (current === undefined) return;
    if (Object.keys(current.set).length === 0 && current.unset.length === 0) {
      problems.push(`line ${lineNumber}: ${current.path}: no headers specified`);
    } else {
      rules.push({ ...current, pattern: compileRulePattern(current.path) });
    }
    current = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const n = i + 1;
    if (line === "" || line.startsWith("#")) continue;
    if (line.length > MAX_LINE_LENGTH) {
      problems.push(`line ${n}: longer than ${MAX_LINE_LENGTH} characters; ignored`);
      continue;
    }
    if (LOOKS_LIKE_PATH.test(line)) {
      finish(n);
      skipping = false;
      if (rules.length >= MAX_RULES) {
        problems.push(
          `line ${n}: more than ${MAX_RULES} rules; the remaining ${lines.length - i} lines are ignored`,
        );
        break;
      }
      const path = rulePath(line);
      if (path === undefined) {
        problems.push(`line ${n}: ${line}: not a path (start it with "/" or "https://host/")`);
        skipping = true;
        continue;
      }
      const wildcards = path.split("*").length - 1;
      if (wildcards > 1 || (wildcards === 1 && /:splat(?!\w)/.test(path))) {
        problems.push(
          `line ${n}: ${path}: only one wildcard (or one :splat) is allowed per rule; use a named placeholder such as :name`,
        );
        skipping = true;
        continue;
      }
      current = { path, set: {}, unset: [] };
      continue;
    }
    if (skipping) continue;
    if (current === undefined) {
      problems.push(`line ${n}: ${line}: a path must come before its headers`);
      continue;
    }
    if (line.startsWith("! ")) {
      current.unset.push(line.slice(2).trim());
      continue;
    }
    const colon = line.indexOf(":");
    if (colon === -1) {
      problems.push(`line ${n}: ${line}: expected "Name: value" or "! Name"`);
      continue;
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "" || name.includes(" ") || value === "") {
      problems.push(`line ${n}: ${line}: expected "Name: value" with a name and a value`);
      continue;
    }
    current.set[name] = current.set[name] === undefined ? value : `${current.set[name]}, ${value}`;
  }
  finish(lines.length);
  return { rules, problems };
}

/** A rule's path as Cloudflare normalizes it, or undefined when it is not a path or https URL. */
export function rulePath(token: string): string | undefined {
  const absolute = /^https:\/\/+([^/]+)\/?(.*)$/.exec(token);
  if (absolute !== null) {
    if (/:\d+$/.test(absolute[1]!)) return undefined;
    return `https://${absolute[1]}${normalizePath(absolute[2]!)}`;
  }
  if (!token.startsWith("/")) return undefined;
  return normalizePath(token);
}

function normalizePath(path: string): string {
  const url = new URL(`//${path.startsWith("/") ? path : `/${path}`}`, "relative://");
  return url.pathname;
}
