// nb.save and nb.load: pytrees of tensors, numbers, strings, booleans, arrays and plain objects in one
// checksummed msgpack file, written atomically.

import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Packr } from "msgpackr";
import { SerializationError } from "../runtime/errors.js";
import { decodeTree, encodeTree } from "./tree-codec.js";

/**
 * File layout: the 8-byte magic "NABLATS\0", a uint32 format version, a uint32 reserved word (0),
 * the payload length as a uint64, the SHA-256 of the payload (32 bytes), then the msgpack payload.
 * All integers are little-endian.
 */
const magic = Buffer.from("NABLATS\0", "latin1");
const formatVersion = 1;
const headerSize = magic.length + 4 + 4 + 8 + 32;

// Plain msgpack maps (no msgpackr records), so any msgpack reader can decode the payload.
const packr = new Packr({ useRecords: false, moreTypes: false });

/** Options of nb.save. */
export interface SaveOptions {
  /** Calls fsync on the file and its folder before returning (default true). */
  readonly fsync?: boolean;
}

/**
 * Saves `obj` to `path`: tensors (realized and copied to the host), finite or non-finite numbers,
 * strings, booleans, null, arrays and plain objects, nested in any way. The data goes to a temporary
 * file in the same folder, which is flushed with fsync and then renamed over `path`, so a failed
 * write never replaces an existing file.
 */
export function save(obj: unknown, path: string, options: SaveOptions = {}): void {
  const encoded = encodeTree(obj, "nb.save");
  const payload = packr.pack(encoded);
  const header = makeHeader(payload);
  writeAtomically(path, [header, payload], options.fsync ?? true);
}

/**
 * Loads what nb.save wrote to `path`. Tensors come back as new leaf tensors with their dtype, shape
 * and `requiresGrad` flag. Raises a SerializationError when the file is missing, truncated,
 * corrupted or not an nb.save file.
 */
export function load(path: string): unknown {
  const bytes = readWhole(path);
  const payload = checkedPayload(bytes, path);
  let decoded: unknown;
  try {
    decoded = packr.unpack(payload);
  } catch (error) {
    throw new SerializationError(path, `the payload is not valid msgpack (${(error as Error).message}) although its checksum matches; the file was written by another program`);
  }
  return decodeTree(decoded, path);
}

function makeHeader(payload: Uint8Array): Buffer {
  const header = Buffer.alloc(headerSize);
  magic.copy(header, 0);
  header.writeUInt32LE(formatVersion, 8);
  header.writeUInt32LE(0, 12);
  header.writeBigUInt64LE(BigInt(payload.length), 16);
  createHash("sha256").update(payload).digest().copy(header, 24);
  return header;
}

function readWhole(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "the file does not exist" : `the file cannot be read (${(error as Error).message})`;
    throw new SerializationError(path, `${reason}; check the path`);
  }
}

/** Checks the header, the length and the checksum; returns the payload bytes. */
function checkedPayload(bytes: Buffer, path: string): Buffer {
  // A prefix of the magic is a truncated nb.save file; anything else is a foreign file.
  const start = bytes.subarray(0, Math.min(bytes.length, magic.length));
  if (!start.equals(magic.subarray(0, start.length))) {
    throw new SerializationError(path, "the file is not an nb.save file (the magic bytes do not match)");
  }
  if (bytes.length < headerSize) {
    throw new SerializationError(path, `the file is truncated: ${bytes.length} bytes, shorter than the ${headerSize}-byte header`);
  }
  const version = bytes.readUInt32LE(8);
  if (version !== formatVersion) {
    throw new SerializationError(path, `the file has format version ${version}; this nabla-ts reads version ${formatVersion}`);
  }
  const expectedLength = Number(bytes.readBigUInt64LE(16));
  const actualLength = bytes.length - headerSize;
  if (actualLength !== expectedLength) {
    const state = actualLength < expectedLength ? "truncated" : "longer than its header says";
    throw new SerializationError(path, `the file is ${state}: the payload has ${actualLength} bytes, the header records ${expectedLength}`);
  }
  const payload = bytes.subarray(headerSize);
  const digest = createHash("sha256").update(payload).digest();
  if (!digest.equals(bytes.subarray(24, headerSize))) {
    throw new SerializationError(path, "the file is corrupted: the SHA-256 checksum of the payload does not match the header");
  }
  return payload;
}

/** Writes `chunks` to a temporary file next to `path`, fsyncs it and renames it over `path`. */
function writeAtomically(path: string, chunks: readonly Uint8Array[], sync: boolean): void {
  const target = resolve(path);
  const folder = dirname(target);
  const temporary = join(folder, `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temporary, "wx");
    for (const chunk of chunks) writeFully(fd, chunk);
    if (sync) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, target);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw new SerializationError(path, `the write failed (${(error as Error).message}); any previous file at this path is unchanged`);
  }
  if (sync) syncFolder(folder);
}

function writeFully(fd: number, chunk: Uint8Array): void {
  let offset = 0;
  while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
}

/** Flushes the folder entry of the rename. Some platforms cannot open a folder for fsync, which is harmless. */
function syncFolder(folder: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(folder, "r");
    fsyncSync(fd);
  } catch {
    // NOTE: without the folder fsync the rename may be lost on power failure, never half-written.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
