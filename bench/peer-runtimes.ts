// Starting the peer libraries the benchmarks compare against, each on its WebAssembly backend with
// one thread. A start that fails returns the reason instead of throwing, so the other peers still run.

export type Started<T> = { readonly ok: true; readonly lib: T } | { readonly ok: false; readonly reason: string };

/** TensorFlow.js core on @tensorflow/tfjs-backend-wasm (XNNPACK), limited to one thread. */
export async function startTfjs(): Promise<Started<typeof import("@tensorflow/tfjs-core")>> {
  try {
    const tf = await import("@tensorflow/tfjs-core");
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    wasm.setThreadsCount(1);
    if (!(await tf.setBackend("wasm"))) return { ok: false, reason: "tf.setBackend('wasm') returned false" };
    await tf.ready();
    return { ok: true, lib: tf };
  } catch (error) {
    return { ok: false, reason: String(error) };
  }
}

/**
 * jax-js on its wasm backend. Node 20 has no Web Worker global, so it runs single-threaded, and init()
 * without arguments would probe WebGPU through `navigator`, which Node 20 lacks.
 */
export async function startJaxJs(): Promise<Started<typeof import("@jax-js/jax")>> {
  try {
    const jax = await import("@jax-js/jax");
    const devices = await jax.init("wasm");
    if (!devices.includes("wasm")) return { ok: false, reason: `init("wasm") returned [${devices.join(", ")}]` };
    jax.defaultDevice("wasm");
    return { ok: true, lib: jax };
  } catch (error) {
    return { ok: false, reason: String(error) };
  }
}

export type Loaded<P> = { readonly ok: true; readonly peer: P } | { readonly ok: false; readonly name: string; readonly reason: string };

/** Starts a peer library and builds the benchmark's operations on it; a failure in either step becomes the reason. */
export async function loadPeer<L, P>(name: string, start: () => Promise<Started<L>>, build: (lib: L) => P): Promise<Loaded<P>> {
  const started = await start();
  if (!started.ok) return { ok: false, name, reason: started.reason };
  try {
    return { ok: true, peer: build(started.lib) };
  } catch (error) {
    return { ok: false, name, reason: String(error) };
  }
}
