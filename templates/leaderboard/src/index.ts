import type { Env } from "./leaderboard";
import { countProblem, MAX_AROUND, playerProblem, scoreProblem } from "./validate";

export { Leaderboard } from "./leaderboard";

/**
 * The HTTP API. Input is checked here, so a bad request is a 400 naming what is wrong before
 * any object is reached; each board is one `Leaderboard` object, called by RPC.
 *
 * - `POST /boards/<board>/scores` `{"player": "ann", "score": 1200}`: records a score.
 * - `GET /boards/<board>/top?n=10`: the first n players.
 * - `GET /boards/<board>/players/<player>?around=2`: a player's rank and neighbours.
 * - `DELETE /boards/<board>/players/<player>`: takes a player off the board.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const match = /^\/boards\/([^/]+)\/(?:(scores|top)|players\/([^/]+))$/.exec(url.pathname);
    if (!match) return error(404, "Not found. See README.md for the routes");
    const board = decode(match[1]!);
    if (board === undefined || !/^[\w-]{1,64}$/.test(board)) {
      return error(400, "board must be 1 to 64 letters, digits, '-' or '_'");
    }
    const leaderboard = env.BOARDS.getByName(board);

    if (match[2] === "scores") {
      if (request.method !== "POST") return notAllowed("POST");
      const body = (await request.json().catch(() => undefined)) as
        | { player?: unknown; score?: unknown }
        | undefined;
      if (typeof body !== "object" || body === null) {
        return error(400, 'Send JSON like {"player": "ann", "score": 1200}');
      }
      const problem = playerProblem(body.player) ?? scoreProblem(body.score);
      if (problem !== undefined) return error(400, problem);
      const submission = await leaderboard.submit(body.player as string, body.score as number);
      return Response.json({ board, ...submission });
    }

    if (match[2] === "top") {
      if (request.method !== "GET") return notAllowed("GET");
      const n = countParam(url, "n", 10, 1, Number(env.MAX_TOP));
      if (n instanceof Response) return n;
      return Response.json({ board, ...(await leaderboard.top(n)) });
    }

    const player = decode(match[3]!);
    const problem =
      player === undefined ? "player is not valid percent-encoding" : playerProblem(player);
    if (problem !== undefined) return error(400, problem);
    if (request.method === "DELETE") {
      const removed = await leaderboard.remove(player!);
      return removed ? new Response(null, { status: 204 }) : notOnBoard(board, player!);
    }
    if (request.method !== "GET") return notAllowed("GET, DELETE");
    const around = countParam(url, "around", Number(env.NEIGHBOURS), 0, MAX_AROUND);
    if (around instanceof Response) return around;
    const standing = await leaderboard.standing(player!, around);
    return standing === null ? notOnBoard(board, player!) : Response.json({ board, ...standing });
  },
} satisfies ExportedHandler<Env>;

/** A whole-number query parameter from `min` to `max` (`fallback` if absent), or a 400. */
function countParam(
  url: URL,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number | Response {
  const value = url.searchParams.get(name);
  const n = value === null ? fallback : /^\d+$/.test(value) ? Number(value) : value;
  const problem = countProblem(name, n, min, max);
  return problem === undefined ? (n as number) : error(400, problem);
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function notOnBoard(board: string, player: string): Response {
  return error(404, `${player} has no score on board ${board}`);
}

function notAllowed(allow: string): Response {
  return new Response(`Use ${allow}`, { status: 405, headers: { Allow: allow } });
}

function error(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}
