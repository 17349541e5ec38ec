/**
 * `cloudflare:sockets`: outgoing TCP connections, plain or TLS, as web streams.
 *
 * @example
 * import { connect } from "cloudflare:sockets";
 * const socket = connect({ hostname: "example.com", port: 25 }, { secureTransport: "starttls" });
 * const writer = socket.writable.getWriter();
 */
import { type SecureTransport, Socket, type SocketInfo } from "./socket.ts";

export { type SecureTransport, Socket, type SocketInfo };

/** Where to connect: `"host:port"` or `{ hostname, port }`. */
export type SocketAddress = string | { hostname: string; port: number };

/** Options of `connect()`. */
export interface SocketOptions {
  /** "off" (plain TCP, the default), "on" (TLS from the start) or "starttls" (TLS later). */
  secureTransport?: SecureTransport;
  /** Keep the writable side open after the other side ended its writes. Default false. */
  allowHalfOpen?: boolean;
}

/** Opens a TCP connection to `address`; the returned socket's `opened` resolves once it is up. */
export function connect(address: SocketAddress, options?: SocketOptions): Socket {
  const { hostname, port } = parseAddress(address);
  return new Socket({
    hostname,
    port,
    secureTransport: parseSecureTransport(options?.secureTransport),
    allowHalfOpen: options?.allowHalfOpen === true,
  });
}

function parseAddress(address: SocketAddress): { hostname: string; port: number } {
  let hostname: string;
  let port: string;
  if (typeof address === "string") {
    const url = URL.parse(`tcp://${address}`);
    if (url === null) throw new TypeError("Specified address could not be parsed.");
    hostname = url.hostname;
    port = url.port;
    if (hostname === "") throw new TypeError("Specified address is missing hostname.");
    if (port === "") throw new TypeError("Specified address is missing port.");
  } else {
    hostname = String(address?.hostname ?? "");
    port = String(address?.port ?? "");
  }
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  const number = Number(port);
  if (!isValidHost(hostname) || !Number.isInteger(number) || number < 0 || number > 65535) {
    throw new TypeError(
      "Specified address is empty string, contains unsupported characters or is too long.",
    );
  }
  return { hostname, port: number };
}

function isValidHost(hostname: string): boolean {
  return hostname.length > 0 && hostname.length <= 255 && /^[A-Za-z0-9._:-]+$/.test(hostname);
}

function parseSecureTransport(value: unknown): SecureTransport {
  if (value === undefined) return "off";
  if (value === "off" || value === "on" || value === "starttls") return value;
  throw new TypeError(`Unsupported value in secureTransport socket option: ${String(value)}`);
}
