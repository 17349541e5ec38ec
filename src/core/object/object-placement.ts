import { SteadError } from "../errors.ts";
import type { DurableObjectId } from "../ids/object-id.ts";
import type { ObjectEvent } from "./object-class.ts";
import {
  type NodeAddress,
  NodeUnreachable,
  ObjectElsewhere,
  type ObjectForwarder,
} from "./object-forwarder.ts";

/** Times an event follows a moved object to its next holder before it fails. */
const MAX_HOPS = 3;
/** Objects whose holder elsewhere is remembered, at most (the oldest is forgotten first). */
const REMEMBERED = 10_000;
/**
 * Request bodies up to this size are read before they are forwarded, so the event can be sent
 * again if the holder turns it away or cannot be reached; larger or unsized ones stream once.
 */
const REPLAYABLE_BODY_BYTES = 1024 * 1024;

/**
 * Where the objects of one namespace are, for a cluster node: here, or on the node that holds
 * them. Delivers each event here unless its object's holder is known to be another node, and
 * follows the object when a node turns the event away (`ObjectElsewhere`) or cannot be reached
 * (the storage then gives the object to this node once the holder's lease has ended).
 */
export class ObjectPlacement {
  readonly #namespace: string;
  readonly #forwarder: ObjectForwarder;
  readonly #here: (id: DurableObjectId, event: ObjectEvent) => Promise<unknown>;
  /** Objects another node holds, as last learned, by id. */
  readonly #elsewhere = new Map<string, NodeAddress>();

  constructor(
    namespace: string,
    forwarder: ObjectForwarder,
    here: (id: DurableObjectId, event: ObjectEvent) => Promise<unknown>,
  ) {
    this.#namespace = namespace;
    this.#forwarder = forwarder;
    this.#here = here;
  }

  /** Forgets every holder learned (this node reset its objects). */
  forget(): void {
    this.#elsewhere.clear();
  }

  async deliver(id: DurableObjectId, first: ObjectEvent): Promise<unknown> {
    const key = id.toString();
    const event = new Resendable(first);
    /** The holder's node could not be reached: the error, unless the storage names another. */
    let unreachable: { node: string; error: unknown } | undefined;
    for (let hop = 0; ; hop++) {
      const owner = this.#elsewhere.get(key);
      try {
        if (owner === undefined) return await this.#here(id, event.take());
        await event.keep();
        const resendable = event.resendable;
        return await this.#forwarder.forward(owner, this.#namespace, id, event.take(), resendable);
      } catch (error) {
        if (!(error instanceof ObjectElsewhere)) {
          // The holder may be dead, or not serving (its lease lapsed; it refused the event
          // before running it): the storage gives the object to this node once the holder's
          // lease has ended. An event that may have run there is not sent again.
          const notRun =
            (error instanceof NodeUnreachable && !error.sent) ||
            (error instanceof SteadError && error.code === "NODE_NOT_SERVING");
          if (owner === undefined || !(notRun || error instanceof NodeUnreachable)) throw error;
          this.#elsewhere.delete(key);
          if (!notRun || !event.resendable) throw error;
          unreachable = { node: owner.node, error };
          continue;
        }
        this.#elsewhere.delete(key);
        if (unreachable?.node === error.owner.node) throw unreachable.error;
        if (hop >= MAX_HOPS || !event.resendable) throw notForwarded(error, this.#namespace, id);
        // Node "": nobody holds it (it was given back), so the next turn tries here.
        if (error.owner.node !== this.#forwarder.node && error.owner.node !== "") {
          if (this.#elsewhere.size >= REMEMBERED) {
            this.#elsewhere.delete(this.#elsewhere.keys().next().value!);
          }
          this.#elsewhere.set(key, error.owner);
        }
      }
    }
  }
}

/**
 * An event that may have to be sent more than once. Only a fetch's request body cannot simply
 * be sent again: one of known, small size is read into memory before it is first forwarded;
 * any other can be sent again only while nobody has read it.
 */
class Resendable {
  #event: ObjectEvent;
  #body: ArrayBuffer | undefined;

  constructor(event: ObjectEvent) {
    this.#event = event;
  }

  get resendable(): boolean {
    const event = this.#event;
    return (
      this.#body !== undefined ||
      event.kind !== "fetch" ||
      event.request.body === null ||
      !event.request.bodyUsed
    );
  }

  /** Reads a small request body of known size, so the event can be sent again after this. */
  async keep(): Promise<void> {
    const event = this.#event;
    if (this.#body !== undefined || event.kind !== "fetch") return;
    const { request } = event;
    const length = Number(request.headers.get("content-length") ?? Number.NaN);
    if (request.body === null || request.bodyUsed || !(length <= REPLAYABLE_BODY_BYTES)) return;
    this.#body = await request.arrayBuffer();
  }

  /** The event to send now (a fresh request around a kept body). */
  take(): ObjectEvent {
    const event = this.#event;
    if (this.#body === undefined || event.kind !== "fetch") return event;
    const { request } = event;
    return {
      kind: "fetch",
      request: new Request(request.url, {
        method: request.method,
        headers: request.headers,
        body: this.#body,
        redirect: request.redirect,
        signal: request.signal,
      }),
    };
  }
}

function notForwarded(error: ObjectElsewhere, namespace: string, id: DurableObjectId): SteadError {
  return new SteadError(
    "OBJECT_ELSEWHERE",
    `Object ${id.toString()} of ${namespace} is held by cluster node ${error.owner.node || "(none)"}${error.owner.address === "" ? "" : ` (${error.owner.address})`}, and the call could not be passed to it: its holder kept changing, or the request body was already sent. Retry the call.`,
    { cause: error, retryable: true },
  );
}
