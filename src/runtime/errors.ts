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

/** A combination that nabla-ts does not support yet; the message says what to do instead. */
export class NotSupportedError extends NablaError {}

/** A concrete value was requested from an abstract (traced) tensor. */
export class TracerError extends NablaError {}

/** A broken invariant inside nabla-ts: a bug to report, never the user's fault. */
export class InternalError extends NablaError {
  constructor(message: string) {
    super(message.startsWith("internal:") ? message : `internal: ${message}`);
  }
}
