type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };

/**
 * The event half of a WebSocket: listeners by type, plus the `on<type>` property. Unlike Node's
 * EventTarget, a listener that throws is reported and does not crash the process, as in workerd.
 */
export class SocketEventTarget extends EventTarget {
  readonly #listeners = new Map<string, Array<{ listener: Listener; once: boolean }>>();

  override addEventListener(
    type: string,
    listener: Listener | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (listener === null || listener === undefined) return;
    const list = this.#listeners.get(type) ?? [];
    if (list.some((entry) => entry.listener === listener)) return;
    const once = typeof options === "object" && options?.once === true;
    list.push({ listener, once });
    this.#listeners.set(type, list);
  }

  override removeEventListener(
    type: string,
    listener: Listener | null,
    _options?: boolean | EventListenerOptions,
  ): void {
    const list = this.#listeners.get(type);
    if (!list || listener === null || listener === undefined) return;
    const index = list.findIndex((entry) => entry.listener === listener);
    if (index >= 0) list.splice(index, 1);
  }

  /** Calls the listeners of `event.type`, then the matching `on<type>` property. */
  override dispatchEvent(event: Event): boolean {
    Object.defineProperty(event, "target", { value: this, configurable: true });
    Object.defineProperty(event, "currentTarget", { value: this, configurable: true });
    const handlers: Listener[] = [];
    for (const entry of [...(this.#listeners.get(event.type) ?? [])]) {
      if (entry.once) this.removeEventListener(event.type, entry.listener);
      handlers.push(entry.listener);
    }
    const property = (this as unknown as Record<string, unknown>)[`on${event.type}`];
    if (typeof property === "function") handlers.push(property as (event: Event) => void);
    for (const handler of handlers) {
      try {
        if (typeof handler === "function") handler.call(this, event);
        else handler.handleEvent(event);
      } catch (error) {
        console.error(`[stead] a WebSocket "${event.type}" listener threw:`, error);
      }
    }
    return !event.defaultPrevented;
  }
}
