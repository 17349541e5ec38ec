import { runOutsideObject } from "../gates/context.ts";
import type { Frame } from "./frames.ts";

interface Outgoing {
  readonly frame: Frame;
  /** The output gate to wait for: the frame was sent after a write that must be durable first. */
  readonly gate: Promise<void> | undefined;
}

/**
 * The frames one WebSocket end sends, delivered in order and each only once the output gate it
 * was sent behind opened. Delivery is always asynchronous: never inside the sender's call.
 */
export class OutgoingFrames {
  readonly #deliver: (frame: Frame) => void;
  #queue: Outgoing[] = [];
  #pumping = false;
  /** Bumped by `discard`, so a pump waiting on a gate drops what it was waiting for. */
  #epoch = 0;

  constructor(deliver: (frame: Frame) => void) {
    this.#deliver = deliver;
  }

  /** Queues `frame`; with `gate`, it leaves once the gate resolves (and never if it rejects). */
  push(frame: Frame, gate?: Promise<void>): void {
    this.#queue.push({ frame, gate });
    if (this.#pumping) return;
    this.#pumping = true;
    // On its own turn, and outside the sender's object: a Worker's listener that receives the
    // frame is no event of that object.
    queueMicrotask(() => runOutsideObject(() => void this.#pump()));
  }

  /** Drops every frame not yet delivered (the object was reset: held outputs are never seen). */
  discard(): void {
    this.#queue = [];
    this.#epoch++;
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const next = this.#queue[0]!;
        if (next.gate) {
          const epoch = this.#epoch;
          let durable = true;
          await next.gate.catch(() => {
            durable = false;
          });
          if (epoch !== this.#epoch) continue;
          this.#queue.shift();
          // The write failed and the object was reset: nothing it held was ever seen outside.
          if (!durable) continue;
        } else {
          this.#queue.shift();
        }
        this.#deliver(next.frame);
      }
    } finally {
      this.#pumping = false;
    }
  }
}
