// Waiting for the event loop itself: a few turns of it, so that work the runtime started from
// fresh macrotasks has run. For anything that may take longer, wait for the condition instead
// (wait-for.ts).

/** One turn of the event loop: what setImmediate callbacks queued before it ran have run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `n` turns: enough for a promise chain that is not blocked on anything else to settle. */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

/** True if `promise` is still unsettled after `n` turns of the event loop. */
export async function isPending(promise: Promise<unknown>, n = 10): Promise<boolean> {
  let settled = false;
  const settle = () => {
    settled = true;
  };
  promise.then(settle, settle);
  await turns(n);
  return !settled;
}
