import type { Env } from "./device-twin";
import { checkCommand, checkDocument, isDeviceId } from "./validate";

export { DeviceTwin } from "./device-twin";

/**
 * The HTTP API. Input is checked here, so a bad request is a 400 naming what is wrong before
 * any object is reached; each device is one `DeviceTwin` object, called by RPC.
 *
 * - `GET /devices/<id>`: the twin (desired, reported, delta, connection, pending commands).
 * - `POST /devices/<id>/reported`: the device reports state (a JSON merge patch).
 * - `PUT /devices/<id>/desired` replaces the desired state; `PATCH` merges into it.
 * - `POST /devices/<id>/commands` `{"name", "payload"?, "ttlSeconds"?}`: queues a command.
 * - `GET /devices/<id>/commands`: the commands waiting; `DELETE .../commands/<cmd>` cancels one.
 * - `GET /devices/<id>/connect` (WebSocket): the device's connection.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const match =
      /^\/devices\/([^/]+)(?:\/(reported|desired|commands|connect)|\/commands\/([^/]+))?$/.exec(
        url.pathname,
      );
    if (!match) return error(404, "Not found. See README.md for the routes");
    const id = match[1]!;
    const commandId = match[3];
    const action = commandId === undefined ? (match[2] ?? "") : "commands";
    if (!isDeviceId(id)) {
      return error(400, "The device id must be 1 to 128 letters, digits, '.', ':', '-' or '_'");
    }
    const device = env.DEVICES.getByName(id);
    const route = `${request.method} ${action}${commandId === undefined ? "" : "/:id"}`;

    switch (route) {
      case "GET ":
        return Response.json({ id, ...(await device.twin()) });
      case "POST reported": {
        const state = checkDocument(await body(request), "The reported state");
        if (!state.ok) return error(400, state.error);
        return Response.json({ id, ...(await device.report(state.value)) });
      }
      case "PUT desired":
      case "PATCH desired": {
        const state = checkDocument(await body(request), "The desired state");
        if (!state.ok) return error(400, state.error);
        const merge = request.method === "PATCH";
        return Response.json({ id, ...(await device.setDesired(state.value, merge)) });
      }
      case "POST commands": {
        const command = checkCommand(await body(request));
        if (!command.ok) return error(400, command.error);
        const queued = await device.sendCommand(command.value);
        if (!queued.ok) return error(429, queued.error);
        return Response.json({ ...queued.command, delivered: queued.delivered }, { status: 202 });
      }
      case "GET commands":
        return Response.json(await device.commands());
      case "DELETE commands/:id":
        return (await device.cancelCommand(commandId!))
          ? new Response(null, { status: 204 })
          : error(404, `The device has no command waiting with id ${commandId}`);
      case "GET connect":
        if (request.headers.get("Upgrade") !== "websocket") {
          return error(426, "Connect with a WebSocket (Upgrade: websocket)");
        }
        return device.fetch(request);
      default:
        return error(405, `${request.method} is not supported on ${url.pathname}; see README.md`);
    }
  },
} satisfies ExportedHandler<Env>;

/** The request's JSON body, or undefined if it has none or it is not JSON. */
async function body(request: Request): Promise<unknown> {
  return request.json().catch(() => undefined);
}

function error(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}
