/**
 * Structured clone to bytes and back, as workerd does it for storage values and WebSocket
 * attachments: V8's format, plus the platform objects workerd stores (Request, Response and
 * Headers without bodies, Blob, DOMException) as V8 host objects, and workerd's
 * `DataCloneError` for everything it refuses.
 *
 * A value with no platform object in it is written exactly as `v8.serialize` writes it, so
 * bytes stored before this existed read back unchanged, and plain values pay only for one walk.
 */
import { DefaultDeserializer, DefaultSerializer } from "node:v8";
import { dataCloneError, unsupportedTypeError } from "./data-clone-error.ts";
import { constructorName, decodeHost, type HostRecord } from "./host-objects.ts";
import { type HostPlaceholder, holdsHostObject, substituteHosts } from "./host-substitution.ts";
import { NOT_PRIMITIVE, primitiveBytes, primitiveOf } from "./primitive-bytes.ts";

/**
 * Added to a platform object's tag where V8 writes a host object. Node writes its own host
 * objects (typed arrays, Buffer) there too, as small indices, so the ranges cannot meet.
 */
const HOST_TAG_BASE = 0x5354_0000;

/** Node's serializer hooks, which its type declarations leave out. */
interface SerializerHooks {
  _writeHostObject(object: object): void;
}
interface DeserializerHooks {
  _readHostObject(): unknown;
}

const nodeWriteHostObject = (DefaultSerializer.prototype as unknown as SerializerHooks)
  ._writeHostObject;
const nodeReadHostObject = (DefaultDeserializer.prototype as unknown as DeserializerHooks)
  ._readHostObject;

class ValueSerializer extends DefaultSerializer {
  readonly #placeholders: Map<object, HostPlaceholder> | undefined;

  constructor(placeholders: Map<object, HostPlaceholder> | undefined) {
    super();
    this.#placeholders = placeholders;
  }

  /** V8 calls this for typed arrays and for the placeholders of platform objects. */
  _writeHostObject(object: object): void {
    const placeholder = this.#placeholders?.get(object);
    if (placeholder !== undefined) {
      this.writeUint32(HOST_TAG_BASE + placeholder.tag);
      this.writeValue(placeholder.record);
    } else if (ArrayBuffer.isView(object)) {
      nodeWriteHostObject.call(this, object);
    } else {
      throw unsupportedTypeError(constructorName(object));
    }
  }
}

// V8's own refusals (functions, symbols, WeakMap…) become workerd's DOMException. Node calls
// this hook both as a function and with `new`, so it is a plain function, not a method.
Object.defineProperty(ValueSerializer.prototype, "_getDataCloneError", {
  value: function DataCloneError(message: string): DOMException {
    return dataCloneError(message);
  },
});

class ValueDeserializer extends DefaultDeserializer {
  /** A typed array's index, read before handing the rest of the host object to Node. */
  #unread: number | undefined;

  override readUint32(): number {
    const unread = this.#unread;
    if (unread === undefined) return super.readUint32();
    this.#unread = undefined;
    return unread;
  }

  _readHostObject(): unknown {
    const tag = this.readUint32();
    if (tag >= HOST_TAG_BASE)
      return decodeHost(tag - HOST_TAG_BASE, this.readValue() as HostRecord);
    this.#unread = tag;
    return nodeReadHostObject.call(this);
  }
}

/**
 * `value` as bytes. Throws a `DataCloneError` (a DOMException) for what workerd cannot
 * serialize, with workerd's message.
 */
export function serializeValue(value: unknown): Buffer {
  const primitive = primitiveBytes(value);
  if (primitive !== undefined) return primitive;
  let placeholders: Map<object, HostPlaceholder> | undefined;
  if (typeof value === "object" && value !== null && holdsHostObject(value)) {
    placeholders = new Map();
    value = substituteHosts(value, placeholders);
  }
  const serializer = new ValueSerializer(placeholders);
  serializer.writeHeader();
  serializer.writeValue(value);
  return serializer.releaseBuffer();
}

/** A fresh copy of the value `bytes` were written from. */
export function deserializeValue(bytes: Uint8Array): unknown {
  const primitive = primitiveOf(bytes);
  if (primitive !== NOT_PRIMITIVE) return primitive;
  const deserializer = new ValueDeserializer(bytes);
  deserializer.readHeader();
  return deserializer.readValue();
}
