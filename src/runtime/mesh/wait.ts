// Atomics.waitAsync for the main thread, which must keep its event loop running while devices work.

type WaitResult = "ok" | "not-equal" | "timed-out";
type WaitAsyncResult = { async: false; value: WaitResult } | { async: true; value: Promise<WaitResult> };
type WaitAsyncFunction = (array: Int32Array, index: number, value: number, timeoutMs: number) => WaitAsyncResult;

// NOTE: Atomics.waitAsync is in V8 and Node 16+, but TypeScript declares it only from lib ES2024.
const atomicsWaitAsync = (Atomics as unknown as { waitAsync: WaitAsyncFunction }).waitAsync;

/** Resolves when `array[index]` is notified or no longer equals `value`, or after `timeoutMs`. */
export async function waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): Promise<WaitResult> {
  const result = atomicsWaitAsync(array, index, value, Math.max(0, timeoutMs));
  return result.async ? result.value : result.value;
}
