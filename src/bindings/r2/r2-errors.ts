/**
 * R2's errors as the Workers binding throws them: an `Error` whose message is
 * `<method>: <message> (<code>)`, as workerd formats the error R2 answers with. Texts and
 * codes are Cloudflare's (https://developers.cloudflare.com/r2/api/error-codes/).
 */
const R2_ERRORS = {
  InternalError: [10001, "We encountered an internal error. Please try again."],
  NoSuchKey: [10007, "The specified key does not exist."],
  EntityTooLarge: [100100, "Your proposed upload exceeds the maximum allowed object size."],
  EntityTooSmall: [10011, "Your proposed upload is smaller than the minimum allowed object size."],
  MetadataTooLarge: [10012, "Your metadata headers exceed the maximum allowed metadata size."],
  InvalidObjectName: [10020, "The specified object name is not valid."],
  InvalidMaxKeys: [10022, "MaxKeys params must be positive integer <= 1000."],
  NoSuchUpload: [10024, "The specified multipart upload does not exist."],
  InvalidPart: [10025, "One or more of the specified parts could not be found."],
  PreconditionFailed: [10031, "At least one of the pre-conditions you specified did not hold."],
  InvalidRange: [10039, "The requested range is not satisfiable"],
  BadUpload: [10048, "There was a problem with the multipart upload."],
} as const;

export type R2ErrorName = keyof typeof R2_ERRORS;

/** The binding's method names, as they prefix R2's error messages. */
export type R2Method =
  | "head"
  | "get"
  | "put"
  | "delete"
  | "list"
  | "createMultipartUpload"
  | "uploadPart"
  | "completeMultipartUpload"
  | "abortMultipartUpload";

/** An error R2 itself answers with: thrown as an `Error` naming the method and code. */
export class R2Failure extends Error {
  readonly r2: R2ErrorName | "BadDigest";
  constructor(name: R2ErrorName | "BadDigest", message?: string) {
    super(message ?? R2_ERRORS[name as R2ErrorName][1]);
    this.r2 = name;
  }
}

/** `method: message (code)`, the text workerd throws for an error answer of R2. */
export function r2Error(method: R2Method, failure: R2Failure): Error {
  const code = failure.r2 === "BadDigest" ? 10037 : R2_ERRORS[failure.r2][0];
  return new Error(`${method}: ${failure.message} (${code})`);
}

/** Runs `call`, turning the R2 failures it throws into the binding's errors for `method`. */
export async function asR2Call<T>(method: R2Method, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw error instanceof R2Failure ? r2Error(method, error) : error;
  }
}

/** The error for a checksum that does not match the body received. */
export function badDigest(algorithm: string, provided: string, actual: string): R2Failure {
  return new R2Failure(
    "BadDigest",
    [
      `The ${algorithm} checksum you specified did not match what we received.`,
      `You provided a ${algorithm} checksum with value: ${provided}`,
      `Actual ${algorithm} was: ${actual}`,
    ].join("\n"),
  );
}
