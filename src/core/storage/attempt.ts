/** Runs a synchronous storage step, turning a throw into a rejected promise. */
export function attempt<T>(fn: () => T): Promise<Awaited<T>> {
  try {
    return Promise.resolve(fn()) as Promise<Awaited<T>>;
  } catch (error) {
    return Promise.reject(error);
  }
}
