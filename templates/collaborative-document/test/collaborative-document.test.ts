import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { createRuntime, type Runtime } from "stead";
import { runInDurableObject } from "stead/testing";
import * as awarenessProtocol from "y-protocols/awareness";
import * as sync from "y-protocols/sync";
import * as Y from "yjs";
import { MESSAGE_AWARENESS, MESSAGE_SYNC, TEXT_NAME } from "../src/protocol.ts";

// The app's bundle has its own copy of Yjs beside the one imported here, so Yjs warns "Yjs was
// already imported": harmless, as no Y.Doc passes between the two.

// The app as `stead start` runs it: its wrangler config (which builds the editor's script
// first), its code, a data directory.
const app = new URL("..", import.meta.url);

/** An editor as the page has one, in this process: a Y.Doc synced over a WebSocket. */
interface Editor extends AsyncDisposable {
  text: Y.Text;
  awareness: awarenessProtocol.Awareness;
  socket: WebSocket;
  /** Settles once the document's state arrived (sync step 2). */
  synced: Promise<void>;
  closed: Promise<CloseEvent>;
}

async function openEditor(rt: Runtime, name: string): Promise<Editor> {
  const response = await rt.fetch(`http://app/d/${name}/ws`, {
    headers: { Upgrade: "websocket" },
  });
  assert.equal(response.status, 101);
  const socket = response.webSocket!;
  socket.accept();
  const doc = new Y.Doc();
  const awareness = new awarenessProtocol.Awareness(doc);
  const synced = Promise.withResolvers<void>();
  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
  const send = (type: number, write: (encoder: encoding.Encoder) => void) => {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, type);
    write(encoder);
    if (socket.readyState === WebSocket.OPEN) socket.send(encoding.toUint8Array(encoder));
  };
  socket.addEventListener("message", (event) => {
    const decoder = decoding.createDecoder(new Uint8Array(event.data as ArrayBuffer));
    const type = decoding.readVarUint(decoder);
    if (type === MESSAGE_AWARENESS) {
      awarenessProtocol.applyAwarenessUpdate(
        awareness,
        decoding.readVarUint8Array(decoder),
        socket,
      );
      return;
    }
    const reply = encoding.createEncoder();
    encoding.writeVarUint(reply, MESSAGE_SYNC);
    const kind = sync.readSyncMessage(decoder, reply, doc, socket);
    if (encoding.length(reply) > 1) socket.send(encoding.toUint8Array(reply));
    if (kind === sync.messageYjsSyncStep2) synced.resolve();
  });
  doc.on("update", (update: Uint8Array, origin: unknown) => {
    if (origin !== socket) send(MESSAGE_SYNC, (encoder) => sync.writeUpdate(encoder, update));
  });
  awareness.on("update", (changes: Record<string, number[]>, origin: unknown) => {
    if (origin !== "local") return;
    const clients = Object.values(changes).flat();
    const update = awarenessProtocol.encodeAwarenessUpdate(awareness, clients);
    send(MESSAGE_AWARENESS, (encoder) => encoding.writeVarUint8Array(encoder, update));
  });
  send(MESSAGE_SYNC, (encoder) => sync.writeSyncStep1(encoder, doc));
  return {
    text: doc.getText(TEXT_NAME),
    awareness,
    socket,
    synced: synced.promise,
    closed,
    async [Symbol.asyncDispose]() {
      awareness.destroy();
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, "done");
      await closed;
    },
  };
}

/** Waits until `condition` holds, failing after `timeoutMs`. */
async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function textOf(rt: Runtime, name: string): Promise<string> {
  const response = await rt.fetch(`http://app/d/${name}/text`);
  assert.equal(response.status, 200);
  return response.text();
}

function tempDataDir(t: { after(fn: () => void): void }): string {
  const dataDir = mkdtempSync(join(tmpdir(), "collaborative-document-test-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  return dataDir;
}

test("two editors' edits, concurrent ones too, converge", async () => {
  await using rt = await createRuntime({ config: app });
  await using ann = await openEditor(rt, "notes");
  await using bob = await openEditor(rt, "notes");
  await Promise.all([ann.synced, bob.synced]);

  ann.text.insert(0, "Hello");
  await until("bob to see ann's edit", () => bob.text.toString() === "Hello");

  // Both type before either has seen the other's edit.
  ann.text.insert(5, " world");
  bob.text.insert(0, ">> ");
  const expected = ">> Hello world";
  await until("both to converge", () => ann.text.toString() === expected);
  await until("bob to converge", () => bob.text.toString() === expected);
  assert.equal(await textOf(rt, "notes"), expected);

  // Documents are separate.
  assert.equal(await textOf(rt, "other"), "");
});

test("a new editor gets the whole document", async () => {
  await using rt = await createRuntime({ config: app });
  {
    await using ann = await openEditor(rt, "notes");
    await ann.synced;
    ann.text.insert(0, "first line\n");
    ann.text.insert(11, "second line\n");
    ann.text.delete(0, 6);
    await until("the edits to be stored", async () => (await textOf(rt, "notes")) !== "");
  }
  await using cat = await openEditor(rt, "notes");
  await cat.synced;
  assert.equal(cat.text.toString(), "line\nsecond line\n");
});

test("keeps the document through a restart", async (t) => {
  const dataDir = tempDataDir(t);
  {
    await using rt = await createRuntime({ config: app, dataDir });
    await using ann = await openEditor(rt, "kept");
    await using bob = await openEditor(rt, "kept");
    await Promise.all([ann.synced, bob.synced]);
    ann.text.insert(0, "written before the restart");
    // Bob sees the edit only once it is on disk: the object's output gate holds the broadcast.
    await until("bob to see it", () => bob.text.toString() === "written before the restart");
  }
  await using rt = await createRuntime({ config: app, dataDir });
  assert.equal(await textOf(rt, "kept"), "written before the restart");
  await using cat = await openEditor(rt, "kept");
  await cat.synced;
  assert.equal(cat.text.toString(), "written before the restart");
  cat.text.insert(0, "And after. ");
  await until("the edit to be applied", async () => (await textOf(rt, "kept")).startsWith("And"));
});

test("compacts the stored updates into one row, keeping the text", async (t) => {
  const dataDir = tempDataDir(t);
  const vars = { COMPACT_AFTER_UPDATES: "10" };
  const rows = (rt: Runtime) =>
    runInDurableObject(rt.env.DOCUMENTS.getByName("long"), (_, ctx) =>
      Number(ctx.storage.sql.exec("SELECT count(*) AS rows FROM updates").one().rows),
    );
  const typed = "one update per character, far more than ten of them";
  {
    await using rt = await createRuntime({ config: app, dataDir, vars });
    await using ann = await openEditor(rt, "long");
    await ann.synced;
    for (const [index, character] of [...typed].entries()) ann.text.insert(index, character);
    await until("every update to arrive", async () => (await textOf(rt, "long")) === typed);
    // One row per update, merged into one each time there were more than 10.
    const stored = await rows(rt);
    assert.ok(stored >= 1 && stored <= 10, `${stored} rows for ${typed.length} updates`);
  }
  await using rt = await createRuntime({ config: app, dataDir, vars });
  assert.equal(await textOf(rt, "long"), typed);
});

test("tells editors who else is here, and when someone leaves", async () => {
  await using rt = await createRuntime({ config: app });
  const ann = await openEditor(rt, "people");
  await ann.synced;
  ann.awareness.setLocalState({ name: "Ann" });
  await using bob = await openEditor(rt, "people");
  // Bob is told about Ann as he connects, without waiting for her to send anything new.
  await until(
    "bob to see ann",
    () => bob.awareness.getStates().get(ann.awareness.clientID)?.name === "Ann",
  );
  // Her socket closes without a goodbye (a crash, a lost network): the document tells Bob.
  ann.socket.close(1000, "gone");
  await until("bob to see ann leave", () => !bob.awareness.getStates().has(ann.awareness.clientID));
  await ann[Symbol.asyncDispose]();
});

test("answers bad requests with what was wrong", async () => {
  await using rt = await createRuntime({ config: app });
  const page = await rt.fetch("http://app/d/notes");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("Content-Type")!, /^text\/html/);
  assert.match(await page.text(), /<script type="module" src="\/editor.js">/);
  const script = await rt.fetch("http://app/editor.js");
  assert.match(script.headers.get("Content-Type")!, /^text\/javascript/);
  assert.match(await script.text(), /DocumentConnection/);

  const bad = await rt.fetch("http://app/d/not%20a%20name/text");
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /Document names are 1 to 64 letters, digits, "-" or "_"/);
  const notUpgrade = await rt.fetch("http://app/d/notes/ws");
  assert.equal(notUpgrade.status, 426);
  const post = await rt.fetch("http://app/d/notes/text", { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  assert.equal((await rt.fetch("http://app/elsewhere")).status, 404);

  // A socket that sends something other than y-protocols messages is closed, saying why.
  await using editor = await openEditor(rt, "notes");
  editor.socket.send("hello");
  const closed = await editor.closed;
  assert.equal(closed.code, 1003);
  assert.match(closed.reason, /Send binary y-protocols messages/);
});
