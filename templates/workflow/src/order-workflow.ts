import { DurableObject } from "cloudflare:workers";
import type { Env } from "./index";
import { type OrderInput, STEPS, type Step, type StepName, type StepResult } from "./steps";

/**
 * running: steps run in order. completed: every step ran. compensating: a step failed for good
 * and the steps done before it are being undone, last first. compensated: all of them were.
 * stuck: a compensation failed for good too; it needs a person.
 */
export type WorkflowStatus = "running" | "completed" | "compensating" | "compensated" | "stuck";
export type StepStatus = "pending" | "done" | "failed" | "compensated";
export type Action = "run" | "compensate";

export interface StepView {
  step: StepName;
  status: StepStatus;
  /** What the service answered (for a compensated step, what running it had answered). */
  result: StepResult | null;
  error: string | null;
}

/** One line of the step log: an attempt started, or how it ended. */
export type LogEntry = {
  at: number;
  step: StepName;
  action: Action;
  attempt: number;
  outcome: "started" | "done" | "failed";
  detail: string | null;
};

export interface WorkflowView {
  id: string;
  status: WorkflowStatus;
  error: string | null;
  input: OrderInput;
  createdAt: number;
  updatedAt: number;
  /** When the next step (or retry, or compensation) runs; null once the workflow has ended. */
  nextRunAt: number | null;
  steps: StepView[];
  log: LogEntry[];
}

export type StartOutcome = { ok: true; workflow: WorkflowView } | { ok: false; error: string };

interface Next {
  step: Step;
  action: Action;
}

/**
 * One order's saga. Each alarm runs one step (or one compensation) and records its outcome in
 * SQLite, together with the alarm for whatever comes next, before the handler returns. Alarms
 * are delivered at least once and survive restarts, so after a crash the alarm fires again and
 * the workflow goes on from the last step it recorded.
 */
export class OrderWorkflow extends DurableObject<Env> {
  readonly #settings: Settings;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#settings = readSettings(env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS workflow (
        only INTEGER PRIMARY KEY CHECK (only = 1),
        id TEXT NOT NULL,
        input TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS steps (
        position INTEGER PRIMARY KEY,
        step TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'compensated')),
        result TEXT,
        error TEXT
      );
      CREATE TABLE IF NOT EXISTS log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        step TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('run', 'compensate')),
        attempt INTEGER NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('started', 'done', 'failed')),
        detail TEXT
      );
    `);
  }

  /** Starts the workflow with `input`, its first step after the step delay; once per id. */
  async start(id: string, input: OrderInput): Promise<StartOutcome> {
    const existing = this.#workflow();
    if (existing !== undefined) {
      return { ok: false, error: `workflow ${id} already exists (${existing.status})` };
    }
    const now = Date.now();
    this.ctx.storage.sql.exec(
      "INSERT INTO workflow (only, id, input, status, created_at, updated_at) VALUES (1, ?, ?, 'running', ?, ?)",
      id,
      JSON.stringify(input),
      now,
      now,
    );
    STEPS.forEach((step, position) => {
      this.ctx.storage.sql.exec(
        "INSERT INTO steps (position, step, status) VALUES (?, ?, 'pending')",
        position,
        step.name,
      );
    });
    await this.ctx.storage.setAlarm(now + this.#settings.stepDelayMs);
    return { ok: true, workflow: (await this.status())! };
  }

  /** The workflow, its steps and its log; null if it was never started. */
  async status(): Promise<WorkflowView | null> {
    const workflow = this.#workflow();
    if (workflow === undefined) return null;
    const steps = this.ctx.storage.sql
      .exec<StepRow>("SELECT step, status, result, error FROM steps ORDER BY position")
      .toArray()
      .map((row) => ({
        step: row.step,
        status: row.status,
        result: row.result === null ? null : (JSON.parse(row.result) as StepResult),
        error: row.error,
      }));
    const log = this.ctx.storage.sql
      .exec<LogEntry>("SELECT at, step, action, attempt, outcome, detail FROM log ORDER BY seq")
      .toArray();
    return {
      id: workflow.id,
      status: workflow.status,
      error: workflow.error,
      input: JSON.parse(workflow.input) as OrderInput,
      createdAt: workflow.created_at,
      updatedAt: workflow.updated_at,
      nextRunAt: await this.ctx.storage.getAlarm(),
      steps,
      log,
    };
  }

  /**
   * Runs whatever is next. A duplicate delivery is harmless: a step whose outcome was recorded
   * is never next again, so it is never redone, and once the workflow has ended there is
   * nothing next at all.
   */
  async alarm(): Promise<void> {
    const workflow = this.#workflow();
    if (workflow === undefined) return;
    const next = this.#next(workflow.status);
    if (next === undefined) return;
    await this.#attempt(workflow, next);
  }

  async #attempt(workflow: WorkflowRow, { step, action }: Next): Promise<void> {
    const { sql } = this.ctx.storage;
    const { n: made } = sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM log WHERE step = ? AND action = ? AND outcome = 'started'",
        step.name,
        action,
      )
      .one();
    const attempt = made + 1;
    // Logged before the call. A real service is reached by fetch, which the output gate holds
    // until this line is durable: after a crash the log shows the call may have been made, and
    // the retry carries the same idempotency key.
    this.#log(step.name, action, attempt, "started", null);
    const call = {
      input: JSON.parse(workflow.input) as OrderInput,
      attempt,
      idempotencyKey: `${workflow.id}/${step.name}${action === "run" ? "" : "/compensate"}`,
    };
    let result: StepResult;
    try {
      result =
        action === "run"
          ? await step.run(call)
          : await step.compensate!(call, this.#result(step.name));
    } catch (error) {
      await this.#failed(
        step,
        action,
        attempt,
        error instanceof Error ? error.message : `${error}`,
      );
      return;
    }
    // From here to the alarm for what comes next there is no await: the outcome, its log line
    // and the next alarm are one transaction. Either all are durable or none is, so a step that
    // is recorded done never runs again, and one that is not runs again when the alarm retries.
    if (action === "run") {
      sql.exec(
        "UPDATE steps SET status = 'done', result = ?, error = NULL WHERE step = ?",
        JSON.stringify(result),
        step.name,
      );
    } else {
      sql.exec("UPDATE steps SET status = 'compensated' WHERE step = ?", step.name);
    }
    this.#log(step.name, action, attempt, "done", JSON.stringify(result));
    await this.#continue();
  }

  async #failed(step: Step, action: Action, attempt: number, message: string): Promise<void> {
    const { maxAttempts, retryDelayMs } = this.#settings;
    if (attempt < maxAttempts) {
      // Backoff: the retry delay, doubled for each attempt already made.
      const delay = retryDelayMs * 2 ** (attempt - 1);
      this.#log(step.name, action, attempt, "failed", `${message}; retrying in ${delay / 1000} s`);
      await this.ctx.storage.setAlarm(Date.now() + delay);
      return;
    }
    this.#log(
      step.name,
      action,
      attempt,
      "failed",
      `${message}; giving up after ${attempt} attempts`,
    );
    const error = `${step.name} ${action === "run" ? "failed" : "could not be compensated"} after ${attempt} attempts: ${message}`;
    if (action === "compensate") {
      this.#setStatus("stuck", error);
      return;
    }
    this.ctx.storage.sql.exec(
      "UPDATE steps SET status = 'failed', error = ? WHERE step = ?",
      message,
      step.name,
    );
    this.#setStatus("compensating", error);
    await this.#continue();
  }

  /** Arms the alarm for what comes next, or ends the workflow if nothing does. */
  async #continue(): Promise<void> {
    const status = this.#workflow()!.status;
    if (this.#next(status) !== undefined) {
      await this.ctx.storage.setAlarm(Date.now() + this.#settings.stepDelayMs);
    } else {
      this.#setStatus(status === "running" ? "completed" : "compensated");
    }
  }

  /** Running: the first step not yet done. Compensating: the last done step that has an undo. */
  #next(status: WorkflowStatus): Next | undefined {
    const rows = this.ctx.storage.sql
      .exec<{ step: StepName; status: StepStatus }>(
        "SELECT step, status FROM steps ORDER BY position",
      )
      .toArray();
    const stepOf = (row: { step: StepName }) => STEPS.find((step) => step.name === row.step)!;
    if (status === "running") {
      const row = rows.find((candidate) => candidate.status === "pending");
      return row && { step: stepOf(row), action: "run" };
    }
    if (status === "compensating") {
      const row = rows.findLast(
        (candidate) => candidate.status === "done" && stepOf(candidate).compensate !== undefined,
      );
      return row && { step: stepOf(row), action: "compensate" };
    }
    return undefined;
  }

  /** What the step's service answered when it ran. */
  #result(step: StepName): StepResult {
    const { result } = this.ctx.storage.sql
      .exec<{ result: string | null }>("SELECT result FROM steps WHERE step = ?", step)
      .one();
    return JSON.parse(result!) as StepResult;
  }

  #workflow(): WorkflowRow | undefined {
    return this.ctx.storage.sql.exec<WorkflowRow>("SELECT * FROM workflow").toArray()[0];
  }

  #setStatus(status: WorkflowStatus, error?: string): void {
    this.ctx.storage.sql.exec(
      "UPDATE workflow SET status = ?, error = coalesce(?, error), updated_at = ?",
      status,
      error ?? null,
      Date.now(),
    );
  }

  #log(
    step: StepName,
    action: Action,
    attempt: number,
    outcome: LogEntry["outcome"],
    detail: string | null,
  ): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO log (at, step, action, attempt, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)",
      Date.now(),
      step,
      action,
      attempt,
      outcome,
      detail,
    );
  }
}

// Row types are aliases, not interfaces: sql.exec<T> needs T to be a plain record type.
type WorkflowRow = {
  id: string;
  input: string;
  status: WorkflowStatus;
  error: string | null;
  created_at: number;
  updated_at: number;
};

type StepRow = {
  step: StepName;
  status: StepStatus;
  result: string | null;
  error: string | null;
};

interface Settings {
  stepDelayMs: number;
  retryDelayMs: number;
  maxAttempts: number;
}

/** The tunables from wrangler.jsonc `vars`, checked so a typo fails loudly, not as NaN. */
function readSettings(env: Env): Settings {
  const seconds = (name: "STEP_DELAY_SECONDS" | "RETRY_DELAY_SECONDS") => {
    const value = Number(env[name]);
    if (env[name] === "" || !Number.isFinite(value) || value < 0) {
      throw new Error(`${name} must be a number of seconds (0 or more), not "${env[name]}"`);
    }
    return value * 1000;
  };
  const maxAttempts = Number(env.MAX_ATTEMPTS);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new Error(`MAX_ATTEMPTS must be a whole number of 1 or more, not "${env.MAX_ATTEMPTS}"`);
  }
  return {
    stepDelayMs: seconds("STEP_DELAY_SECONDS"),
    retryDelayMs: seconds("RETRY_DELAY_SECONDS"),
    maxAttempts,
  };
}
