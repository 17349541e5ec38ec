import type { Transferable } from "node:worker_threads";
import type { AlarmOutcome } from "../core/alarms/run-alarm.ts";
import { SteadError } from "../core/errors.ts";
import { sendFromCurrent } from "../core/gates/context.ts";
import type { DurableObjectId, IdFactory } from "../core/ids/object-id.ts";
import { checkNamespaceId, type ObjectRoute } from "../core/object/namespace.ts";
import type { ObjectEvent } from "../core/object/object-class.ts";
import type { HandleRef, Handles } from "./handles.ts";
import type { WireCall, WireEvent, WireOutcome, WireResult } from "./shard-protocol.ts";
import {
  fromWireError,
  fromWireRequest,
  fromWireResponse,
  toWireError,
  toWireRequest,
  toWireResponse,
  type WireResponse,
} from "./wire.ts";

/** A port or a Worker: something to post messages on. */
export interface Poster {
  postMessage(value: unknown, transfer?: readonly Transferable[]): void;
}

/** Sends a call to another thread and resolves with its decoded result. */
export type CallSender = (
  namespace: string,
  id: DurableObjectId,
  event: ObjectEvent,
) => Promise<unknown>;

/** A namespace's route to objects that live on another thread. */
export function threadRoute(namespace: string, ids: IdFactory, sender: CallSender): ObjectRoute {
  return {
    namespace,
    ids,
    checkId: (id) => checkNamespaceId(ids, id),
    send: (id, event) => sendFromCurrent(() => sender(namespace, id, event)),
  };
}

/** Calls this side sent and has not had answered, by number. */
export class PendingCalls {
  #next = 0;
  readonly #calls = new Map<number, { kind: WireEvent["kind"]; settle: Settle }>();
  /** Settles once every call made so far was posted. */
  #posting: Promise<void> = Promise.resolve();
  /** Calls passed on from another thread: their answers go back undecoded. */
  readonly #relays = new Map<number, (result: WireResult) => void>();

  /** This thread's references, for RPC values that hold functions, RpcTargets or stubs. */
  readonly #handles: Handles | undefined;

  constructor(handles?: Handles) {
    this.#handles = handles;
  }

  /** Posts a call of `namespace`/`id` on `port`; resolves with the decoded answer. */
  send(
    port: Poster,
    namespace: string,
    id: DurableObjectId,
    event: ObjectEvent,
    forwarded = false,
  ): Promise<unknown> {
    return this.#send(
      port,
      {
        namespace,
        id: id.toString(),
        name: id.name,
        jurisdiction: id.jurisdiction,
        ...(forwarded ? { forwarded } : {}),
      },
      event,
    );
  }

  /** Posts a call of a function or RpcTarget another thread keeps (`member` undefined: call it). */
  sendHandle(
    port: Poster,
    ref: HandleRef,
    member: string | undefined,
    args: unknown[] | undefined,
  ): Promise<unknown> {
    return this.#send(
      port,
      { namespace: "", id: "", name: undefined, handle: { ...ref, member } },
      { kind: "rpc", member: member ?? "", args },
    );
  }

  #send(
    port: Poster,
    target: Pick<WireCall, "namespace" | "id" | "name" | "jurisdiction" | "handle" | "forwarded">,
    event: ObjectEvent,
  ): Promise<unknown> {
    const call = ++this.#next;
    const transfer: Transferable[] = [];
    // Encoding a body may wait a turn; calls still leave in the order they were made (one stub's
    // calls are delivered in order, as on one thread): each is posted by the chain in turn.
    const encoded = encodeEvent(event, transfer);
    return new Promise((resolve, reject) => {
      this.#posting = this.#posting.then(() =>
        encoded.then(
          (wireEvent) => {
            this.#calls.set(call, { kind: wireEvent.kind, settle: { resolve, reject } });
            const message: WireCall = { t: "call", call, ...target, event: wireEvent };
            try {
              postWithRefs(port, message, transfer, this.#handles);
            } catch (error) {
              this.#calls.delete(call);
              reject(unsendable(error));
            }
          },
          (error: unknown) => reject(unsendable(error)),
        ),
      );
    });
  }

  /**
   * Passes on a call that another thread sent, without decoding it; `answer` gets the answer
   * (for the caller to renumber), or an error answer if this side went away first.
   */
  relay(port: Poster, call: WireCall, answer: (result: WireResult) => void): void {
    const number = ++this.#next;
    this.#relays.set(number, answer);
    port.postMessage({ ...call, call: number }, transferablesOf(call, call.event.kind));
  }

  /** An answer arrived. */
  settle(result: WireResult): void {
    const relay = this.#relays.get(result.call);
    if (relay !== undefined) {
      this.#relays.delete(result.call);
      relay(result);
      return;
    }
    const pending = this.#calls.get(result.call);
    if (pending === undefined) return;
    this.#calls.delete(result.call);
    if (result.ok) {
      const value = result.refs ? this.#handles!.import(result.value) : result.value;
      pending.settle.resolve(decodeValue(pending.kind, value));
    } else pending.settle.reject(fromWireError(result.error));
  }

  /** The other side is gone: every unanswered call fails with `error`. */
  failAll(error: Error): void {
    const calls = [...this.#calls.values()];
    const relays = [...this.#relays.values()];
    this.#calls.clear();
    this.#relays.clear();
    for (const { settle } of calls) settle.reject(error);
    const failed: WireResult = { t: "result", call: 0, ok: false, error: toWireError(error) };
    for (const answer of relays) answer(failed);
  }
}

interface Settle {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Runs `deliver` for an incoming call and posts its answer on `port`. `handles` revives the
 * references the call's arguments hold and hands out those its result holds.
 */
export function answerCall(
  port: Poster,
  call: WireCall,
  deliver: (event: ObjectEvent) => Promise<unknown>,
  handles?: Handles,
): void {
  let result: Promise<unknown>;
  try {
    const event = decodeEvent(call.event);
    if (call.refs && event.kind === "rpc") event.args = handles!.import(event.args) as unknown[];
    result = deliver(event);
  } catch (error) {
    result = Promise.reject(error);
  }
  result.then(
    async (value) => {
      const transfer: Transferable[] = [];
      let outcome: WireOutcome;
      try {
        outcome = { ok: true, value: await encodeValue(call.event.kind, value, transfer) };
        postWithRefs(port, { t: "result", call: call.call, ...outcome }, transfer, handles);
        return;
      } catch (error) {
        outcome = { ok: false, error: toWireError(unsendable(error)) };
      }
      port.postMessage({ t: "result", call: call.call, ...outcome });
    },
    (error: unknown) => {
      port.postMessage({ t: "result", call: call.call, ok: false, error: toWireError(error) });
    },
  );
}

/**
 * Posts a call or an answer. An RPC value that holds references (functions, RpcTargets, stubs)
 * cannot be cloned: it is posted again with them made markers (`Handles.export`), so plain data
 * never pays for the walk.
 */
function postWithRefs(
  port: Poster,
  message: WireCall | WireResult,
  transfer: Transferable[],
  handles: Handles | undefined,
): void {
  try {
    port.postMessage(message, transfer);
    return;
  } catch (error) {
    const rpc = message.t === "call" ? message.event.kind === "rpc" : message.ok;
    if (!rpc || handles === undefined || !isDataCloneError(error)) throw error;
  }
  if (message.t === "call" && message.event.kind === "rpc") {
    const event = { ...message.event, args: handles.export(message.event.args) as unknown[] };
    port.postMessage({ ...message, event, refs: true }, transfer);
  } else if (message.t === "result" && message.ok) {
    port.postMessage({ ...message, value: handles.export(message.value), refs: true }, transfer);
  }
}

function isDataCloneError(error: unknown): boolean {
  return error instanceof Error && error.name === "DataCloneError";
}

/** What a call or an answer carries that must be transferred rather than copied. */
export function transferablesOf(
  message: WireCall | WireResult,
  kind: WireEvent["kind"],
): Transferable[] {
  if (kind !== "fetch") return [];
  const found: unknown[] = [];
  if (message.t === "call") {
    if (message.event.kind === "fetch") found.push(streamOnly(message.event.request.body));
  } else if (message.ok && message.value !== null && typeof message.value === "object") {
    const value = message.value as Partial<WireResponse>;
    found.push(streamOnly(value.body), value.webSocket);
  }
  return found.filter((item) => item !== null && item !== undefined) as Transferable[];
}

/** Bytes are copied; only a stream body is transferred. */
function streamOnly(body: unknown): unknown {
  return body instanceof ReadableStream ? body : undefined;
}

async function encodeEvent(event: ObjectEvent, transfer: Transferable[]): Promise<WireEvent> {
  switch (event.kind) {
    case "fetch":
      return { kind: "fetch", request: await toWireRequest(event.request, transfer) };
    case "rpc":
      return { kind: "rpc", member: event.member, args: event.args };
    case "alarm":
      return { kind: "alarm", record: event.record };
    case "admin":
      return { kind: "admin", request: event.request };
    default:
      throw new TypeError(`A "${event.kind}" event cannot be sent to another thread.`);
  }
}

function decodeEvent(event: WireEvent): ObjectEvent {
  switch (event.kind) {
    case "fetch":
      return { kind: "fetch", request: fromWireRequest(event.request) };
    case "rpc":
      return event;
    case "alarm":
    case "admin":
      return event;
  }
}

async function encodeValue(
  kind: WireEvent["kind"],
  value: unknown,
  transfer: Transferable[],
): Promise<unknown> {
  switch (kind) {
    case "fetch":
      // A non-Response crosses as it is, so the caller's stub reports it as it would locally.
      return value instanceof Response
        ? await toWireResponse(value, transfer)
        : { notResponse: true };
    case "alarm": {
      const outcome = value as AlarmOutcome;
      return outcome.kind === "failed"
        ? { ...outcome, error: toWireError(outcome.error) }
        : outcome;
    }
    case "rpc":
    case "admin":
      return value;
  }
}

function decodeValue(kind: WireEvent["kind"], value: unknown): unknown {
  switch (kind) {
    case "fetch":
      return (value as { notResponse?: true }).notResponse
        ? undefined
        : fromWireResponse(value as WireResponse);
    case "alarm": {
      const outcome = value as AlarmOutcome;
      return outcome.kind === "failed"
        ? { ...outcome, error: fromWireError(outcome.error as never) }
        : outcome;
    }
    case "rpc":
    case "admin":
      return value;
  }
}

/** postMessage refused a value: say which values cannot cross and what to do instead. */
function unsendable(error: unknown): unknown {
  if (!(error instanceof Error) || error.name !== "DataCloneError") return error;
  return new SteadError(
    "CROSS_THREAD_UNSUPPORTED",
    `This value cannot be sent to a Durable Object on another object thread (${error.message}). Requests, Responses and streams inside RPC values do not cross threads yet: pass their contents, or run with --threads 0 (createRuntime: threads: 0) to keep every object on one thread.`,
    { cause: error },
  );
}
