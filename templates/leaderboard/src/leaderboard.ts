import { DurableObject } from "cloudflare:workers";
import { countProblem, MAX_AROUND, playerProblem, scoreProblem } from "./validate";

export interface Env {
  BOARDS: DurableObjectNamespace<Leaderboard>;
  MAX_TOP: string;
  NEIGHBOURS: string;
}

/** A player's place on a board. Equal scores share a rank (1, 2, 2, 4). */
export interface Entry {
  rank: number;
  player: string;
  /** The player's best score. */
  score: number;
  /** When the best score was first reached (ms since the epoch): earlier ranks first in ties. */
  achievedAt: number;
}

/** What submitting a score did. */
export interface Submission extends Entry {
  /** Whether this score beat the player's best (or was their first). */
  improved: boolean;
  /** The best score before this one, or null for a new player. */
  previous: number | null;
}

/** A player's entry with the players just above and below, in board order. */
export interface Standing extends Entry {
  above: Entry[];
  below: Entry[];
}

export interface Top {
  /** Players on the board. */
  total: number;
  players: Entry[];
}

interface Row extends Record<string, SqlStorageValue> {
  player: string;
  score: number;
  achieved_at: number;
}

// Board order: higher scores first; among equal scores, who reached it first; then by name, so
// the order is total and neighbours are well defined. The index below is in exactly this order.
const ORDER = "score DESC, achieved_at, player";
const REVERSE_ORDER = "score, achieved_at DESC, player DESC";

/**
 * One board: every player's best score, in the object's SQLite database. Each call runs alone
 * (one event at a time) and reads and writes synchronously, so a player's concurrent
 * submissions cannot both think they improved the same old best.
 */
export class Leaderboard extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // With the index in board order, the top N is the index's first N entries, and a rank is a
    // count over the index's range of higher scores: no query sorts the board.
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS scores (
      player TEXT PRIMARY KEY,
      score REAL NOT NULL,
      achieved_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS scores_by_rank ON scores (${ORDER})`);
  }

  /** Records `score` for `player`, keeping only their best. */
  submit(player: string, score: number): Submission {
    assertValid(playerProblem(player) ?? scoreProblem(score));
    const before = this.#row(player);
    const improved = before === undefined || score > before.score;
    if (improved) {
      this.ctx.storage.sql.exec(
        `INSERT INTO scores (player, score, achieved_at) VALUES (?, ?, ?)
         ON CONFLICT (player) DO UPDATE SET score = excluded.score, achieved_at = excluded.achieved_at`,
        player,
        score,
        Date.now(),
      );
    }
    const row = this.#row(player)!;
    return { ...this.#entry(row), improved, previous: before?.score ?? null };
  }

  /** The first `n` players in board order, and how many there are. */
  top(n = 10): Top {
    assertValid(countProblem("n", n, 1, this.#maxTop()));
    const rows = this.ctx.storage.sql
      .exec<Row>(`SELECT player, score, achieved_at FROM scores ORDER BY ${ORDER} LIMIT ?`, n)
      .toArray();
    // Rows come in board order, so each rank follows from the row before: a tie shares its rank,
    // anything else is ranked by its position.
    const players: Entry[] = [];
    for (const [index, row] of rows.entries()) {
      const previous = players[index - 1];
      const rank = previous?.score === row.score ? previous.rank : index + 1;
      players.push(entryOf(row, rank));
    }
    return { total: this.#total(), players };
  }

  /** `player`'s entry with up to `around` players either side, or null if they have no score. */
  standing(player: string, around = Number(this.env.NEIGHBOURS)): Standing | null {
    assertValid(playerProblem(player) ?? countProblem("around", around, 0, MAX_AROUND));
    const row = this.#row(player);
    if (row === undefined) return null;
    const { score, achieved_at: at } = row;
    // Everything before the player in board order: higher scores, and equal scores reached
    // earlier (or at the same time by an earlier name). Walking the index backwards from the
    // player gives the nearest first.
    const above = this.ctx.storage.sql
      .exec<Row>(
        `SELECT player, score, achieved_at FROM scores
         WHERE score >= ? AND NOT (score = ? AND (achieved_at > ? OR (achieved_at = ? AND player >= ?)))
         ORDER BY ${REVERSE_ORDER} LIMIT ?`,
        score,
        score,
        at,
        at,
        player,
        around,
      )
      .toArray()
      .reverse();
    const below = this.ctx.storage.sql
      .exec<Row>(
        `SELECT player, score, achieved_at FROM scores
         WHERE score <= ? AND NOT (score = ? AND (achieved_at < ? OR (achieved_at = ? AND player <= ?)))
         ORDER BY ${ORDER} LIMIT ?`,
        score,
        score,
        at,
        at,
        player,
        around,
      )
      .toArray();
    return {
      ...this.#entry(row),
      above: above.map((r) => this.#entry(r)),
      below: below.map((r) => this.#entry(r)),
    };
  }

  /** Takes `player` off the board (a cheater, a deleted account); false if they were not on it. */
  remove(player: string): boolean {
    assertValid(playerProblem(player));
    return (
      this.ctx.storage.sql
        .exec("DELETE FROM scores WHERE player = ? RETURNING player", player)
        .toArray().length > 0
    );
  }

  #row(player: string): Row | undefined {
    return this.ctx.storage.sql
      .exec<Row>("SELECT player, score, achieved_at FROM scores WHERE player = ?", player)
      .toArray()[0];
  }

  #entry(row: Row): Entry {
    return entryOf(row, this.#rankOf(row.score));
  }

  /** 1 + the players with a higher score: a count over the start of the index. */
  #rankOf(score: number): number {
    return (
      this.ctx.storage.sql
        .exec<{ higher: number }>("SELECT count(*) AS higher FROM scores WHERE score > ?", score)
        .one().higher + 1
    );
  }

  #total(): number {
    return this.ctx.storage.sql
      .exec<{ total: number }>("SELECT count(*) AS total FROM scores")
      .one().total;
  }

  #maxTop(): number {
    return Number(this.env.MAX_TOP);
  }
}

function entryOf(row: Row, rank: number): Entry {
  return { rank, player: row.player, score: row.score, achievedAt: row.achieved_at };
}

/** RPC callers get the same rules as HTTP callers, as a TypeError naming what was wrong. */
function assertValid(problem: string | undefined): void {
  if (problem !== undefined) throw new TypeError(problem);
}
