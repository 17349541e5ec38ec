// The editor page's script: a Y.Doc whose text is bound to the textarea and kept in sync with
// the document's object. The build command in wrangler.jsonc bundles it, with Yjs, into
// build/editor.js, which the Worker serves at /editor.js.
import { Awareness } from "y-protocols/awareness";
import * as Y from "yjs";
import { TEXT_NAME } from "../src/protocol";
import { type ConnectionStatus, DocumentConnection } from "./connection";
import { bindTextarea } from "./textarea-binding";

/** What each editor tells the others about itself. */
interface Person {
  name: string;
  color: string;
}

const STATUS_TEXT: Record<ConnectionStatus, string> = {
  connecting: "Connecting…",
  synced: "Connected",
  offline: "Offline: reconnecting… (your edits are kept and sent when back)",
};

const COLORS = ["#d33", "#26c", "#2a2", "#c60", "#93c", "#088", "#c39"];

function element<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

// The Worker serves this page at / (the document "default") and /d/<name>.
const name = decodeURIComponent(location.pathname.match(/^\/d\/([^/]+)/)?.[1] ?? "default");
element("name").textContent = name;
document.title = `${name} · Shared document`;

const doc = new Y.Doc();
bindTextarea(element<HTMLTextAreaElement>("editor"), doc.getText(TEXT_NAME));

const awareness = new Awareness(doc);
const me: Person = {
  name:
    new URLSearchParams(location.search).get("name")?.slice(0, 32) ||
    `Guest ${doc.clientID % 1000}`,
  color: COLORS[doc.clientID % COLORS.length]!,
};
awareness.setLocalState(me);
showPeople();
awareness.on("change", showPeople);

function showPeople(): void {
  const people = element("people");
  people.replaceChildren("Here:");
  for (const [clientID, state] of awareness.getStates()) {
    const person = state as Partial<Person>;
    const tag = document.createElement("span");
    tag.textContent = `${person.name ?? "someone"}${clientID === doc.clientID ? " (you)" : ""}`;
    tag.style.color = person.color ?? "inherit";
    people.append(tag);
  }
}

const status = element("status");
const protocol = location.protocol === "https:" ? "wss:" : "ws:";
new DocumentConnection(
  `${protocol}//${location.host}/d/${encodeURIComponent(name)}/ws`,
  doc,
  awareness,
  (state) => {
    status.dataset.state = state;
    status.textContent = STATUS_TEXT[state];
  },
);

element<HTMLFormElement>("open").addEventListener("submit", (event) => {
  event.preventDefault();
  location.href = `/d/${encodeURIComponent(element<HTMLInputElement>("other").value)}`;
});
