/**
 * A Blob's bytes, read synchronously. Storage writes are synchronous (`storage.kv.put`, writes
 * coalesced into the current turn's transaction) and workerd stores a Blob's bytes at `put()`,
 * but Node only reads a Blob asynchronously. So a helper thread reads it while this thread
 * waits on a shared flag: public APIs only, and the thread exists only once a Blob was stored.
 */
import { Worker } from "node:worker_threads";

/** How long a read may take (a file-backed Blob on a slow disk) before the put fails. */
const READ_TIMEOUT_MS = 30_000;

const READER_SOURCE = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", async ({ blob, bytes, flag }) => {
  const state = new Int32Array(flag);
  try {
    new Uint8Array(bytes).set(new Uint8Array(await blob.arrayBuffer()));
    Atomics.store(state, 0, 1);
  } catch (error) {
    Atomics.store(state, 0, 2);
  }
  Atomics.notify(state, 0);
});
`;

let reader: Worker | undefined;

function blobReader(): Worker {
  if (reader === undefined) {
    // No execArgv: the reader needs none of this process's loaders or flags.
    reader = new Worker(READER_SOURCE, { eval: true, execArgv: [] });
    reader.unref();
    reader.on("error", () => {
      reader = undefined;
    });
    reader.on("exit", () => {
      reader = undefined;
    });
  }
  return reader;
}

/** A copy of `blob`'s bytes, read without returning to the event loop. */
export function readBlobSync(blob: Blob): Uint8Array {
  if (blob.size === 0) return new Uint8Array(0);
  const bytes = new SharedArrayBuffer(blob.size);
  const flag = new SharedArrayBuffer(4);
  const state = new Int32Array(flag);
  blobReader().postMessage({ blob, bytes, flag });
  if (Atomics.wait(state, 0, 0, READ_TIMEOUT_MS) === "timed-out" || state[0] !== 1) {
    throw new DOMException(
      `The Blob's ${blob.size} bytes could not be read${state[0] === 0 ? ` within ${READ_TIMEOUT_MS} ms` : ""}; read it with \`await blob.bytes()\` and store the bytes instead.`,
      "NotReadableError",
    );
  }
  return new Uint8Array(bytes).slice();
}
