// Engine feature probes: each runs WebAssembly.validate on a tiny module once and caches the result.

let simd: boolean | undefined;
let relaxed: boolean | undefined;

/** True when the engine accepts 128-bit SIMD (v128.const); nabla-ts kernels need it. */
export function simdSupported(): boolean {
  if (simd === undefined) simd = WebAssembly.validate(v128Probe([]));
  return simd;
}

/**
 * True when the engine accepts f32x4.relaxed_madd. Node 20 (V8 11.3) accepts it only with
 * --experimental-wasm-relaxed-simd; later versions enable the proposal by default.
 */
export function relaxedSimdSupported(): boolean {
  if (relaxed === undefined) relaxed = WebAssembly.validate(v128Probe([0xfd, 0x85, 0x02]));
  return relaxed;
}

/** Returns the current WebAssembly feature support, probed once. */
export function wasmFeatures(): { readonly simd: boolean; readonly relaxedSimd: boolean } {
  return { simd: simdSupported(), relaxedSimd: relaxedSimdSupported() };
}

/**
 * A module with one function () -> v128 that pushes three zero v128 constants, applies the
 * instruction `tail` (relaxed_madd for the relaxed probe) and drops the extra constants otherwise.
 */
function v128Probe(tail: readonly number[]): Uint8Array {
  const zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  const drops = tail.length === 0 ? [0x1a, 0x1a] : [];
  const body = [0x00, ...zero, ...zero, ...zero, ...tail, ...drops, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
    0x03, 0x02, 0x01, 0x00,
    0x0a, body.length + 2, 0x01, body.length, ...body,
  ]);
}
