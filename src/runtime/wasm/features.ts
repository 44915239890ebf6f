// Engine feature probes: each runs WebAssembly.validate on a tiny module once and caches the result.

let relaxed: boolean | undefined;

/**
 * True when the engine accepts f32x4.relaxed_madd. Node 20 (V8 11.3) accepts it only with
 * --experimental-wasm-relaxed-simd; later versions enable the proposal by default.
 */
export function relaxedSimdSupported(): boolean {
  if (relaxed === undefined) relaxed = WebAssembly.validate(relaxedMaddProbe());
  return relaxed;
}

/** A module with one function () -> v128 whose body is relaxed_madd of three zero constants. */
function relaxedMaddProbe(): Uint8Array {
  const zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  const body = [0x00, ...zero, ...zero, ...zero, 0xfd, 0x85, 0x02, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
    0x03, 0x02, 0x01, 0x00,
    0x0a, body.length + 2, 0x01, body.length, ...body,
  ]);
}
