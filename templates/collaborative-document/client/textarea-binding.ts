import type * as Y from "yjs";

/** The origin of the textarea's own edits, so they are not written back into it. */
const TEXTAREA = Symbol("textarea");

/**
 * Keeps `textarea` and `text` equal: what the user types becomes Y.Text edits, and remote edits
 * rewrite the textarea with the caret and selection moved along with the text around them.
 */
export function bindTextarea(textarea: HTMLTextAreaElement, text: Y.Text): void {
  let shown = text.toString();
  textarea.value = shown;

  textarea.addEventListener("input", () => {
    const { index, removed, inserted } = difference(shown, textarea.value);
    shown = textarea.value;
    text.doc!.transact(() => {
      if (removed > 0) text.delete(index, removed);
      if (inserted !== "") text.insert(index, inserted);
    }, TEXTAREA);
  });

  text.observe((event: Y.YTextEvent, transaction: Y.Transaction) => {
    if (transaction.origin === TEXTAREA) return;
    let { selectionStart: start, selectionEnd: end } = textarea;
    let index = 0;
    for (const change of event.delta) {
      if (change.retain !== undefined) {
        index += change.retain;
      } else if (typeof change.insert === "string") {
        const length = change.insert.length;
        if (index < start) start += length;
        if (index < end) end += length;
        index += length;
      } else if (change.delete !== undefined) {
        start -= Math.max(0, Math.min(change.delete, start - index));
        end -= Math.max(0, Math.min(change.delete, end - index));
      }
    }
    shown = text.toString();
    textarea.value = shown;
    if (document.activeElement === textarea) textarea.setSelectionRange(start, end);
  });
}

/**
 * The one edit that turns `before` into `after`: the common prefix and suffix stay, the middle
 * is replaced. A typed character, a paste or a cut is one such edit. It never splits a
 * surrogate pair (an emoji), which Y.Text would store as two broken halves.
 */
function difference(before: string, after: string) {
  const shorter = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < shorter && before[prefix] === after[prefix]) prefix++;
  if (prefix > 0 && isHighSurrogate(before.charCodeAt(prefix - 1))) prefix--;
  let suffix = 0;
  while (
    suffix < shorter - prefix &&
    before[before.length - 1 - suffix] === after[after.length - 1 - suffix]
  ) {
    suffix++;
  }
  if (suffix > 0 && isLowSurrogate(before.charCodeAt(before.length - suffix))) suffix--;
  return {
    index: prefix,
    removed: before.length - prefix - suffix,
    inserted: after.slice(prefix, after.length - suffix),
  };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
