import { basename } from "node:path";
import { type ParseError, parse as parseJsonc, printParseErrorCode } from "jsonc-parser";
import { parse as parseToml, TomlDate, TomlError } from "smol-toml";
import { SteadError } from "../core/errors.ts";

/**
 * Parses a config file's text: JSON with comments and trailing commas for `.json`/`.jsonc`
 * (as wrangler reads both), TOML for `.toml`. Syntax errors name `path:line:column` and show the
 * line.
 */
export function parseConfigText(path: string, text: string): unknown {
  return path.endsWith(".toml") ? parseTomlText(path, text) : parseJsoncText(path, text);
}

function parseJsoncText(path: string, text: string): unknown {
  const errors: ParseError[] = [];
  const value = parseJsonc(text, errors, { allowTrailingComma: true, allowEmptyContent: true });
  const first = errors[0];
  if (first !== undefined) {
    const { line, column } = position(text, first.offset);
    const what = printParseErrorCode(first.error)
      .replace(/([a-z])([A-Z])/g, "$1 $2")
      .toLowerCase();
    throw new SteadError(
      "INVALID_CONFIG",
      `${path}:${line}:${column}: ${basename(path)} is not valid JSONC: ${what}.\n${excerpt(text, line, column)}\nFix the syntax there (comments and trailing commas are allowed).`,
    );
  }
  return value;
}

function parseTomlText(path: string, text: string): unknown {
  try {
    return normalizeToml(parseToml(text));
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const what = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    throw new SteadError(
      "INVALID_CONFIG",
      `${path}:${error.line}:${error.column}: ${basename(path)} is not valid TOML: ${what}.\n${excerpt(text, error.line, error.column)}\nFix the syntax there.`,
    );
  }
}

/** TOML has dates; `compatibility_date = 2026-01-01` (unquoted) means the date string. */
function normalizeToml(value: unknown): unknown {
  if (value instanceof TomlDate) return value.isDate() ? value.toISOString() : value;
  if (Array.isArray(value)) return value.map(normalizeToml);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeToml(v)]));
  }
  return value;
}

/** 1-based line and column of `offset`. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

/** The line before and the offending line, with a caret under the column. */
function excerpt(text: string, line: number, column: number): string {
  const lines = text.split("\n");
  const shown: string[] = [];
  for (let n = Math.max(1, line - 1); n <= Math.min(line, lines.length); n++) {
    shown.push(`${String(n).padStart(4)} | ${lines[n - 1]!.replace(/\r$/, "")}`);
  }
  shown.push(`     | ${" ".repeat(Math.max(0, column - 1))}^`);
  return shown.join("\n");
}
