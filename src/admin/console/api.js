// The admin API as the console calls it: every request carries the token this tab signed in
// with (sessionStorage: gone when the tab closes, never sent anywhere but this listener).

const TOKEN_KEY = "stead-admin-token";

/** The API refused the token (401): the console returns to its sign-in form. */
export class Unauthorized extends Error {}

/** The API answered with an error: `message` is its own text (for a query, SQLite's). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {string | undefined} code
   */
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @type {() => void} */
let onUnauthorized = () => {};

/** Calls `handler` whenever a request's token is refused (after the token is forgotten). */
export function whenUnauthorized(/** @type {() => void} */ handler) {
  onUnauthorized = handler;
}

/** The token this tab signed in with, or null. */
export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(/** @type {string} */ token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * Calls the admin API: `path` like `/api/v1/namespaces`; answers JSON parsed, or text (for
 * `/metrics`). Throws `Unauthorized` on 401 and `ApiError` with the server's message otherwise.
 *
 * @param {string} path
 * @param {{ method?: string, body?: unknown, token?: string }} [options]
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
  const token = options.token ?? storedToken();
  if (token === null) {
    onUnauthorized();
    throw new Unauthorized("Not signed in.");
  }
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${token}` };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(
      0,
      `The server did not answer (${String(error)}). Is it running?`,
      undefined,
    );
  }
  if (response.status === 401) {
    // A token given at the sign-in form is only checked; a stored one is no longer good.
    if (options.token === undefined) {
      forgetToken();
      onUnauthorized();
    }
    throw new Unauthorized("The server refused the token.");
  }
  if (response.status === 204) return undefined;
  const text = await response.text();
  const json = (response.headers.get("content-type") ?? "").startsWith("application/json");
  const answer = json && text !== "" ? JSON.parse(text) : text;
  if (response.ok) return answer;
  const error = json && typeof answer === "object" && answer !== null ? answer : {};
  throw new ApiError(
    response.status,
    typeof error.error === "string" ? error.error : `HTTP ${response.status}`,
    typeof error.code === "string" ? error.code : undefined,
  );
}

/** The path of a class's objects. */
export function objectsPath(/** @type {string} */ className) {
  return `/api/v1/namespaces/${encodeURIComponent(className)}/objects`;
}

/** The path of one object, by name or id. */
export function objectPath(/** @type {string} */ className, /** @type {string} */ object) {
  return `${objectsPath(className)}/${encodeURIComponent(object)}`;
}
