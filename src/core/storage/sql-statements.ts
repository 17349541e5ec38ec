// Splits the SQL text given to `sql.exec()` into statements, using the same state machine as
// SQLite's `sqlite3_complete()` (src/complete.c), so a `;` ends a statement exactly where SQLite
// would consider the statement complete.

// Token classes of complete.c.
const SEMI = 0;
const WS = 1;
const OTHER = 2;
const EXPLAIN = 3;
const CREATE = 4;
const TEMP = 5;
const TRIGGER = 6;
const END = 7;

// complete.c's `trans[state][token]`. States: 0 INVALID, 1 START, 2 NORMAL, 3 EXPLAIN, 4 CREATE,
// 5 TRIGGER (inside a trigger body), 6 SEMI (`;` in a trigger body), 7 END (`; END` seen).
// A trigger is therefore only complete at `; END ;`, which is why `CASE ... END;` inside a
// trigger body does not end it.
const TRANS: readonly (readonly number[])[] = [
  /* 0 INVALID */ [1, 0, 2, 3, 4, 2, 2, 2],
  /* 1 START   */ [1, 1, 2, 3, 4, 2, 2, 2],
  /* 2 NORMAL  */ [1, 2, 2, 2, 2, 2, 2, 2],
  /* 3 EXPLAIN */ [1, 3, 3, 2, 4, 2, 2, 2],
  /* 4 CREATE  */ [1, 4, 2, 2, 2, 4, 5, 2],
  /* 5 TRIGGER */ [6, 5, 5, 5, 5, 5, 5, 5],
  /* 6 SEMI    */ [6, 6, 5, 5, 5, 5, 5, 7],
  /* 7 END     */ [1, 7, 5, 5, 5, 5, 5, 5],
];
const INVALID = 0;
const START = 1;

const KEYWORDS: ReadonlyMap<string, number> = new Map([
  ["create", CREATE],
  ["temp", TEMP],
  ["temporary", TEMP],
  ["trigger", TRIGGER],
  ["end", END],
  ["explain", EXPLAIN],
]);

// SQLite's tokenizer whitespace. complete.c omits \v, but the parser treats it as a space, and the
// parser is what finally runs each piece.
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

// SQLite's IdChar: ASCII letters, digits, `_`, `$`, and every non-ASCII character.
function isIdChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) ||
    (c >= 65 && c <= 90) ||
    (c >= 48 && c <= 57) ||
    c === 95 ||
    c === 36 ||
    c >= 0x80
  );
}

// Index just past the closing `close`, or the end of input when unterminated (SQLite then
// reports the bad token itself when it parses the piece).
function skipPast(sql: string, close: string, from: number): number {
  const at = sql.indexOf(close, from);
  return at < 0 ? sql.length : at + close.length;
}

function trimSpace(sql: string, begin: number, end: number): string {
  while (begin < end && isSpace(sql.charCodeAt(begin))) begin++;
  while (end > begin && isSpace(sql.charCodeAt(end - 1))) end--;
  return sql.slice(begin, end);
}

// Single-statement input (the common case) needs no tokenizing: no `;` before the trailing run
// of spaces and `;`. Returns undefined when the full scan is needed, including whenever a trailing
// `;` might sit inside a comment. It can differ from the full scan only when that `;` is inside
// an unterminated string, which SQLite rejects either way.
function singleStatement(sql: string): string[] | undefined {
  let end = sql.length;
  while (end > 0) {
    const c = sql.charCodeAt(end - 1);
    if (c !== 59 && !isSpace(c)) break;
    end--;
  }
  const semi = sql.indexOf(";");
  if (semi >= 0) {
    if (semi < end) return undefined;
    if (sql.lastIndexOf("--", end) > sql.lastIndexOf("\n", end)) return undefined;
    if (sql.lastIndexOf("/*", end) >= 0) return undefined;
  }
  const text = trimSpace(sql, 0, end);
  if (text === "") return [];
  // A leading `-` or `/` may open a comment, and a comment-only input has no statement.
  const first = text.charCodeAt(0);
  return first === 45 || first === 47 ? undefined : [text];
}

// Splits `sql` into its statements: trimmed, without the terminating `;`, skipping statements
// that are empty or only comments. Linear in the input length.
export function splitStatements(sql: string): string[] {
  const single = singleStatement(sql);
  if (single) return single;

  const statements: string[] = [];
  const n = sql.length;
  let state = INVALID;
  let start = 0;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    let next = i + 1;
    let token = OTHER;
    if (c === 59) {
      token = SEMI;
    } else if (isSpace(c)) {
      token = WS;
    } else if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      next = skipPast(sql, "*/", i + 2);
      token = WS;
    } else if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      next = skipPast(sql, "\n", i + 2);
      token = WS;
    } else if (c === 39 || c === 34 || c === 96) {
      // '' inside a string closes and reopens it, which splits the same way.
      next = skipPast(sql, sql[i]!, i + 1);
    } else if (c === 91) {
      next = skipPast(sql, "]", i + 1);
    } else if (isIdChar(c)) {
      while (next < n && isIdChar(sql.charCodeAt(next))) next++;
      const len = next - i;
      if (len === 3 || len === 4 || len === 6 || len === 7 || len === 9) {
        token = KEYWORDS.get(sql.slice(i, next).toLowerCase()) ?? OTHER;
      }
    }

    const previous = state;
    state = TRANS[state]![token]!;
    if (token === SEMI && state === START) {
      if (previous !== START && previous !== INVALID) statements.push(trimSpace(sql, start, i));
      start = next;
    }
    i = next;
  }
  // A final statement without `;` (or one left open by an unterminated trigger) still counts.
  if (state !== START && state !== INVALID) statements.push(trimSpace(sql, start, n));
  return statements;
}
