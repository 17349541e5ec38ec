// Types for the `cloudflare:*` modules Stead serves (src/cloudflare/), in apps Stead runs and in
// its own tests. Keep in step with src/cloudflare/ and src/cloudflare/specifiers.ts. (An
// ambient module cannot re-export a relative path, so the shapes are written out here.)
declare module "cloudflare:workers" {
  export { DurableObject, RpcTarget, WorkerEntrypoint } from "stead";

  import type { ExecutionContext } from "stead";

  export type { ExecutionContext };

  /** The Worker's bindings, importable anywhere (top level included). */
  export const env: Record<string, any>;
  /** The Worker's loopback bindings, as `ctx.exports`. */
  export const exports: Record<string, any>;
  /** Extends the current request (or object event) until `promise` settles. */
  export function waitUntil(promise: Promise<unknown>): void;
  export function withEnv<T>(newEnv: unknown, fn: () => T): T;
  export function withExports<T>(newExports: unknown, fn: () => T): T;
  export function withEnvAndExports<T>(newEnv: unknown, newExports: unknown, fn: () => T): T;
  /** `ctx.cache` on Cloudflare; every property reads as undefined on Stead. */
  export const cache: Record<string, any>;
  /** Type names of RPC values; cannot be constructed, and nothing is an instance on Stead. */
  export class RpcPromise {}
  export class RpcProperty {}
  export class ServiceStub {}

  /** Wraps an RpcTarget or a function in a stub. */
  export class RpcStub {
    constructor(value: object | ((...args: any[]) => unknown));
    [member: string]: any;
  }

  export interface WorkflowEvent<Params> {
    payload: Readonly<Params>;
    timestamp: Date;
    instanceId: string;
  }
  /** Base class of a Workflow; the Workflows binding itself is not supported. */
  export abstract class WorkflowEntrypoint<Env = unknown, Params = unknown> {
    protected ctx: ExecutionContext;
    protected env: Env;
    constructor(ctx: ExecutionContext, env: Env);
    abstract run(event: Readonly<WorkflowEvent<Params>>, step: unknown): Promise<unknown>;
  }
}

declare module "cloudflare:sockets" {
  export type SecureTransport = "off" | "on" | "starttls";
  export interface SocketInfo {
    remoteAddress?: string;
    localAddress?: string;
  }
  export interface SocketOptions {
    secureTransport?: SecureTransport;
    allowHalfOpen?: boolean;
  }
  export type SocketAddress = string | { hostname: string; port: number };
  export interface Socket {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    readonly opened: Promise<SocketInfo>;
    readonly closed: Promise<void>;
    readonly upgraded: boolean;
    readonly secureTransport: SecureTransport;
    close(): Promise<void>;
    startTls(options?: { expectedServerHostname?: string }): Socket;
  }
  export function connect(address: SocketAddress, options?: SocketOptions): Socket;
}

declare module "cloudflare:br" {
  /** Not supported by Stead: constructing one throws API_UNSUPPORTED. */
  export class BrowserRendering {}
}

declare module "cloudflare:email" {
  /** Not supported by Stead: constructing one throws API_UNSUPPORTED. */
  export class EmailMessage {
    constructor(from: string, to: string, raw: ReadableStream | string);
  }
}

declare module "cloudflare:workflows" {
  export class NonRetryableError extends Error {
    constructor(message: string, name?: string);
  }
}

declare module "cloudflare:ai" {
  /** Not supported by Stead: constructing one throws API_UNSUPPORTED. */
  export class Ai {}
  export class InferenceUpstreamError extends Error {}
  export class AiGateway {}
  export class AiGatewayInternalError extends Error {}
  export class AiGatewayLogNotFound extends Error {}
  export class AutoRAG {}
  export class AutoRAGInternalError extends Error {}
  export class AutoRAGNotFoundError extends Error {}
  export class AutoRAGUnauthorizedError extends Error {}
  export class ToMarkdownService {}
}

declare module "cloudflare:vectorize" {
  export const KnownModel: Readonly<Record<string, string>>;
  export const DistanceMetric: {
    readonly EUCLIDEAN: "euclidean";
    readonly COSINE: "cosine";
    readonly DOT_PRODUCT: "dot-product";
  };
  export const MetadataRetrievalLevel: {
    readonly ALL: "all";
    readonly INDEXED: "indexed";
    readonly NONE: "none";
  };
}

declare module "cloudflare:pipelines" {
  /** Not supported by Stead: constructing one throws API_UNSUPPORTED. */
  export class PipelineTransformationEntrypoint {}
}

declare module "cloudflare:node" {
  /** Not supported by Stead: calling it throws API_UNSUPPORTED. */
  export function httpServerHandler(...args: unknown[]): never;
  export function handleAsNodeRequest(...args: unknown[]): never;
}
