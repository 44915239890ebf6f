// Module builder: function types, the imported shared memory, imported helpers, functions and exports.
//
// Kernels are emitted as bytecode directly rather than printed as text and assembled. That needs no
// text-assembler dependency (wabt alone is megabytes of wasm) and gives exact control of every encoding
// (alignment hints, lane immediates, relaxed-SIMD opcodes). It also builds a module in well under a
// millisecond, which matters because every shape specialisation is a new module.

import { InternalError } from "../../errors.js";
import { CodeBuilder } from "./code.js";
import { encodeName, unsignedLeb, withSize } from "./leb128.js";
import { valTypeCode, type ValType } from "./opcodes.js";

/** WebAssembly page size in bytes. */
export const pageBytes = 65536;

/** Page limit every kernel declares for its imported memory: the wasm32 ceiling of 4 GiB. */
export const maxMemoryPages = 65536;

/** A JavaScript function the module imports, as `imports[module][name]`. */
export interface FunctionImport {
  readonly module: string;
  readonly name: string;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

interface FunctionEntry {
  readonly name: string;
  readonly code: CodeBuilder;
  readonly exported: boolean;
}

export class ModuleBuilder {
  readonly imports: FunctionImport[] = [];
  readonly functions: FunctionEntry[] = [];

  /** Declares an imported function and returns its function index; call before adding functions. */
  importFunction(entry: FunctionImport): number {
    if (this.functions.length > 0) throw new InternalError("imports must be declared before functions");
    const existing = this.imports.findIndex((i) => i.module === entry.module && i.name === entry.name);
    if (existing >= 0) return existing;
    this.imports.push(entry);
    return this.imports.length - 1;
  }

  /** Adds a function and returns its index in the function index space (after the imports). */
  addFunction(name: string, code: CodeBuilder, exported = true): number {
    this.functions.push({ name, code, exported });
    return this.imports.length + this.functions.length - 1;
  }

  encode(): Uint8Array {
    const types: string[] = [];
    const typeIndex = (params: readonly ValType[], results: readonly ValType[]): number => {
      const key = `${params.join(",")}->${results.join(",")}`;
      let index = types.indexOf(key);
      if (index < 0) index = types.push(key) - 1;
      return index;
    };
    const importTypes = this.imports.map((i) => typeIndex(i.params, i.results));
    const functionTypes = this.functions.map((f) => typeIndex(f.code.params.map((p) => p.type), f.code.results));

    const bytes = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    bytes.push(...section(1, vector(types.map(encodeFunctionType))));
    bytes.push(...section(2, vector([memoryImport(), ...this.imports.map((i, k) => functionImport(i, importTypes[k]))])));
    bytes.push(...section(3, vector(functionTypes.map((t) => unsignedLeb(t)))));
    const exports = this.functions.flatMap((f, k) => (f.exported ? [[...encodeName(f.name), 0x00, ...unsignedLeb(this.imports.length + k)]] : []));
    bytes.push(...section(7, vector(exports)));
    bytes.push(...section(10, vector(this.functions.map((f) => withSize(f.code.encode())))));
    return new Uint8Array(bytes);
  }
}

function section(id: number, payload: readonly number[]): number[] {
  return [id, ...withSize(payload)];
}

function vector(items: readonly (readonly number[])[]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

function encodeFunctionType(key: string): number[] {
  const [params, results] = key.split("->").map((list) => (list === "" ? [] : (list.split(",") as ValType[])));
  return [0x60, ...vector(params.map((t) => [valTypeCode[t]])), ...vector(results.map((t) => [valTypeCode[t]]))];
}

/** `env.memory`: shared, at least 1 page, at most `maxMemoryPages`, so any device memory satisfies it. */
function memoryImport(): number[] {
  return [...encodeName("env"), ...encodeName("memory"), 0x02, 0x03, ...unsignedLeb(1), ...unsignedLeb(maxMemoryPages)];
}

function functionImport(entry: FunctionImport, type: number): number[] {
  return [...encodeName(entry.module), ...encodeName(entry.name), 0x00, ...unsignedLeb(type)];
}
