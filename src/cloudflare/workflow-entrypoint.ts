import type { ExecutionContext } from "../core/base-classes.ts";

/**
 * Base class of a Workflow (`export class MyWorkflow extends WorkflowEntrypoint`). Stead has the
 * class, so apps and libraries that define workflows load and run their other parts; the
 * Workflows binding that would run `run(event, step)` is not supported (docs/compatibility.md).
 */
export abstract class WorkflowEntrypoint<Env = unknown, Params = unknown> {
  protected ctx: ExecutionContext;
  protected env: Env;

  constructor(ctx: ExecutionContext, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }

  abstract run(event: Readonly<WorkflowEvent<Params>>, step: unknown): Promise<unknown>;
}

/** What a workflow instance's `run()` receives. */
export interface WorkflowEvent<Params> {
  payload: Readonly<Params>;
  timestamp: Date;
  instanceId: string;
}
