// The ceiling: a raw `node:http` server that answers every workload's URL with a small fixed
// body of about the size Stead's answer has (no storage, no objects, no Web Request/Response),
// so the bench shows how much of a core Node's HTTP alone takes per request on this machine.
// `node bench/node/hello-server.ts --port <n> [--host 127.0.0.1]`.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { port: { type: "string" }, host: { type: "string", default: "127.0.0.1" } },
  strict: true,
});
if (values.port === undefined) throw new Error("--port is required");

interface Answer {
  readonly type: string;
  readonly body: Buffer;
}

const answer = (type: string, body: string | Buffer): Answer => ({
  type,
  body: typeof body === "string" ? Buffer.from(body) : body,
});

const TEXT = "text/plain;charset=UTF-8";
const JSON_TYPE = "application/json";
// What Stead's bench app answers, in size and type: a counter as text (w1, w2, w6), the last
// ten rows as JSON (w3), the object's small JSON (w4), D1's meta (w8), the static file (w7).
const counter = answer(TEXT, "12345");
const rows = answer(
  JSON_TYPE,
  JSON.stringify(
    Array.from({ length: 10 }, (_, i) => ({ id: 12345 - i, body: "hello", at: 1765000000000 })),
  ),
);
const echo = answer(JSON_TYPE, JSON.stringify({ ok: true, path: "/w4", served: 12345 }));
const d1 = answer(JSON_TYPE, JSON.stringify({ changes: 1, last_row_id: 12345 }));
const asset = answer(
  "text/javascript",
  readFileSync(new URL("../app/public/static/app.js", import.meta.url)),
);
const ok = answer(TEXT, "ok");
const notFound = answer(TEXT, "Not found");

function route(path: string): Answer | undefined {
  if (path === "/w1" || path.startsWith("/w2/") || path.startsWith("/w6/")) return counter;
  if (path === "/w3") return rows;
  if (path === "/w4") return echo;
  if (path === "/w8" || path === "/w8/setup") return d1;
  if (path === "/static/app.js") return asset;
  if (path === "/health") return ok;
  return undefined;
}

const server = createServer((req, res) => {
  const found = route(req.url ?? "/");
  const { type, body } = found ?? notFound;
  res.writeHead(found === undefined ? 404 : 200, {
    "content-type": type,
    "content-length": body.byteLength,
  });
  res.end(body);
});
server.listen(Number(values.port), values.host);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
