/** What the HTTP front reports about one request, once its response has ended. */
export interface RequestLogRecord {
  /**
   * The request's id: the `X-Request-Id` header a proxy set, or one made here. Lines the Worker's
   * code logs while serving the request carry it too.
   */
  requestId: string;
  /** The request method; empty when the request could not be parsed. */
  method: string;
  /** The path and query as the client sent them; empty when the request could not be parsed. */
  path: string;
  /**
   * The status sent. 499 (as nginx logs it) when the client disconnected before any status was
   * sent; with `aborted`, the status of a response cut short.
   */
  status: number;
  /** From the request's arrival to the end of its response, in milliseconds (µs precision). */
  durationMs: number;
  /** Response body bytes written to the connection. */
  bytes: number;
  /** Present when the client disconnected before the response was complete. */
  aborted?: true;
  /** What went wrong (the Worker threw, its body stream failed, a limit was hit), as a stack. */
  error?: string;
}

/**
 * Receives one record per request. Called on the server's hot path: keep it cheap, and do not
 * throw (a sink that throws is ignored, never allowed to break the server).
 */
export type RequestLogSink = (record: RequestLogRecord) => void;
