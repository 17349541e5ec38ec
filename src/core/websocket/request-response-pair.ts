/**
 * A request message and the response the runtime sends for it without waking the object
 * (`ctx.setWebSocketAutoResponse`).
 *
 * @example
 * ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
 */
export class WebSocketRequestResponsePair {
  readonly #request: string;
  readonly #response: string;

  constructor(request: string, response: string) {
    if (request === undefined || response === undefined) {
      throw new TypeError(
        "WebSocketRequestResponsePair needs two arguments: the request message and the response message.",
      );
    }
    this.#request = String(request);
    this.#response = String(response);
  }

  /** The message that triggers the response (matched exactly). */
  get request(): string {
    return this.#request;
  }

  /** The message sent back. */
  get response(): string {
    return this.#response;
  }
}
