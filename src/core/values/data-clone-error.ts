/**
 * The `DataCloneError` structured clone raises, with workerd's texts: apps match on them. A
 * `DOMException` (code 25), as in workerd, not an `Error` named "DataCloneError".
 */
export function dataCloneError(message: string): DOMException {
  return new DOMException(message, "DataCloneError");
}

/** workerd's text for a platform object it has no serializer for (URL, File, FormData, Event…). */
export function unsupportedTypeError(typeName: string): DOMException {
  return dataCloneError(
    `Could not serialize object of type "${typeName}". This type does not support serialization.`,
  );
}

/** A stream, or a Request or Response whose body is one: only RPC can carry those. */
export const READABLE_STREAM_RPC_ONLY = "ReadableStream can only be serialized for RPC.";
/** A WritableStream outside RPC. */
export const WRITABLE_STREAM_RPC_ONLY = "WritableStream can only be serialized for RPC.";
/** An AbortSignal anywhere (workerd's `enable_abortsignal_rpc` is experimental and off). */
export const ABORT_SIGNAL_DISABLED = "AbortSignal serialization is not enabled.";
