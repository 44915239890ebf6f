// Typed errors shared by every layer. Messages name the op, the values involved and the fix.

/** Base class of every error nabla-ts raises on purpose. */
export class NablaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit together: broadcasting, matmul contraction, reshape sizes. */
export class ShapeError extends NablaError {}

/** A dtype that an op does not accept, or a value that does not fit its dtype. */
export class DTypeError extends NablaError {}

/** An axis, index or value outside its valid range. */
export class IndexError extends NablaError {}

/** An invalid argument that is neither a shape nor a dtype problem. */
export class ValueError extends NablaError {}

/** A misuse of automatic differentiation, such as backward on a non-scalar. */
export class AutogradError extends NablaError {}

/** A combination that nabla-ts does not support yet; the message names what to do instead. */
export class NotSupportedError extends NablaError {}

/** A concrete value was requested from an abstract (traced) tensor. */
export class TracerError extends NablaError {}

/** A broken invariant inside nabla-ts: a bug to report, never the user's fault. */
export class InternalError extends NablaError {
  constructor(message: string) {
    super(message.startsWith("internal:") ? message : `internal: ${message}`);
  }
}

/** A device memory request that cannot be met: out of capacity, or a free of an unknown range. */
export class DeviceMemoryError extends NablaError {}

/**
 * A step of a mesh program that failed on a device: a kernel or step threw, or the device's worker exited.
 * `device` is the mesh device where the fault started, `program` the program's name and `step` the index
 * of the failing step in that device's step list (-1 when the fault happened outside any step).
 */
export class DeviceError extends NablaError {
  readonly device: number;
  readonly program: string;
  readonly step: number;

  constructor(message: string, device: number, program: string, step: number) {
    super(message);
    this.device = device;
    this.program = program;
    this.step = step;
  }
}

/** A device that did not reach a barrier or finish its program within the mesh's timeout. */
export class TimeoutError extends DeviceError {}

/** A sharding spec that does not fit its tensor or mesh: an unknown axis, an axis used twice, a spec longer than the rank. */
export class ShardingError extends NablaError {}

/** A file that nb.load cannot read: missing, truncated, corrupted or in another format. `path` is the file. */
export class SerializationError extends NablaError {
  readonly path: string;

  constructor(path: string, reason: string) {
    super(`${path}: ${reason}`);
    this.path = path;
  }
}
