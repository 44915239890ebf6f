// LEB128 integer encodings used throughout the WebAssembly binary format.

/** Encodes a non-negative integer below 2^32 as unsigned LEB128. */
export function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  let rest = value >>> 0;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest !== 0);
  return bytes;
}

/** Encodes a signed integer (i32 or i64 range) as signed LEB128. */
export function signedLeb(value: number | bigint): number[] {
  const bytes: number[] = [];
  let rest = BigInt(value);
  for (;;) {
    const byte = Number(rest & 0x7fn);
    rest >>= 7n;
    const done = (rest === 0n && (byte & 0x40) === 0) || (rest === -1n && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

/** Encodes a string as its UTF-8 length followed by the bytes. */
export function encodeName(name: string): number[] {
  const utf8 = new TextEncoder().encode(name);
  return [...unsignedLeb(utf8.length), ...utf8];
}

/** Prefixes `bytes` with their length, as sections and function bodies require. */
export function withSize(bytes: readonly number[]): number[] {
  return [...unsignedLeb(bytes.length), ...bytes];
}
