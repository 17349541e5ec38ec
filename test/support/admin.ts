import { randomBytes } from "node:crypto";
import { AdminApi } from "../../src/admin/admin-api.ts";
import { AdminClient } from "../../src/admin/admin-client.ts";
import { AdminServer } from "../../src/admin/admin-server.ts";
import { runtimeAdmin } from "../../src/embedded/runtime-admin.ts";
import type { Runtime } from "../../src/index.ts";

/** The admin API of `runtime` on a loopback listener, and a client with its token; `await using` stops it. */
export async function adminOf(
  runtime: Runtime,
): Promise<{ client: AdminClient; url: string; token: string } & AsyncDisposable> {
  const token = randomBytes(24).toString("base64url");
  const server = await AdminServer.listen({
    host: "127.0.0.1",
    port: 0,
    tokens: { readWrite: token },
    api: new AdminApi(runtimeAdmin(runtime)),
  });
  return {
    client: new AdminClient(server.url, token),
    url: server.url,
    token,
    [Symbol.asyncDispose]: () => server.close(),
  };
}
