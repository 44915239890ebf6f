// The public API: `import * as nb from "nabla-ts"`.

import "./ops/registry.js";
import "./ops/methods.js";
import "./autograd/backward.js";

export { Tensor, realize, type TensorSharding } from "./core/tensor.js";
export type { DType } from "./core/dtype.js";
export { promoteTypes } from "./core/dtype.js";
export type { Shape } from "./core/shape.js";
export { noGrad, isGradEnabled } from "./core/grad-mode.js";
export {
  tensor, full, zeros, ones, zerosLike, onesLike, arange, linspace, eye,
  type TensorData, type TensorOptions, type CreationOptions,
} from "./core/creation.js";
export { treeFlatten, treeUnflatten, treeMap, registerPytreeNode, treedefToString, type TreeDef } from "./core/pytree.js";
export {
  NablaError, ShapeError, DTypeError, IndexError, ValueError, AutogradError, NotSupportedError, TracerError, InternalError,
  DeviceMemoryError, ShardingError, SerializationError,
} from "./runtime/errors.js";
export { setDebugLevel, debugLevel } from "./runtime/debug.js";
export { wasmFeatures } from "./runtime/wasm/features.js";

export {
  neg, abs, sign, relu, exp, log, log1p, sqrt, rsqrt, sin, cos, tanh, sigmoid, erf,
  add, sub, mul, div, pow, maximum, minimum,
  equal, notEqual, less, lessEqual, greater, greaterEqual, logicalAnd, logicalOr, logicalNot,
  where, cast, clip, stopGradient, square,
} from "./ops/elementwise.js";
export { gelu, silu, type GeluOptions } from "./ops/activation.js";
export {
  sum, mean, max, min, prod, variance, variance as var, argmax, argmin, logsumexp, softmax, logSoftmax,
  type ReduceOptions, type VarOptions, type ArgReduceOptions,
} from "./ops/reduction.js";
export { matmul, outer } from "./ops/linalg.js";
export {
  reshape, broadcastTo, transpose, permute, swapAxes, slice, sliceTensor, pad, concat, stack, split,
  squeeze, unsqueeze, expandDims, flip, flatten, type SliceSpec,
} from "./ops/layout.js";
export { gather, take, scatterAdd, oneHot } from "./ops/indexing.js";
export type { Operand } from "./ops/lift.js";
export * as random from "./ops/random.js";

export { grad, valueAndGrad, vjp, type GradOptions } from "./autograd/transforms.js";
export { jvp } from "./autograd/forward.js";
export { configureDevice, deviceMemoryStats, type DeviceOptions } from "./compiler/wasm/executor.js";
export { setBackend } from "./core/executor.js";
export { compile, type CompileOptions, type CompiledFunction } from "./compiler/compile.js";
export { CompileStats } from "./compiler/stats.js";
export * as nn from "./nn/index.js";
export { save, load, type SaveOptions } from "./io/save-load.js";
export { DeviceMesh, type MeshOptions } from "./sharding/mesh.js";
export { NamedSharding, shard, replicate, reshard, withShardingConstraint, shardingOf } from "./sharding/api.js";
export { ShardingSpec, P, checkSpec, type DimSpec, type PartialOp, type MeshLayout } from "./sharding/spec.js";
export { chunkBounds, shardBounds, shardShape } from "./sharding/chunks.js";
export type {
  Program as MeshProgram, DeviceProgram, Step as MeshStep, Operand as MeshOperand, ReduceOp,
} from "./runtime/mesh/program.js";
export { DeviceError, TimeoutError } from "./runtime/errors.js";
export { traceGraph, type Graph } from "./compiler/trace.js";
export { partition, type ShardedInput, type PartitionOptions } from "./sharding/partition.js";
export { simulate, runSpmd, shardValue, assembleValue } from "./sharding/simulate.js";
export { mergeAllReduces } from "./sharding/merge.js";
export { checkSpmdProgram } from "./sharding/check.js";
export { formatSpmdProgram } from "./sharding/print.js";
export { countCollectives, isCollective, type CollectiveKind, type Group, type SpmdProgram, type LocalProgram, type LocalStep } from "./sharding/program.js";
export { shardMap, type ShardMapOptions, type SpecTree } from "./compiler/shard-map.js";
import "./compiler/shard-map-grad.js";
export {
  psum, pmean, pmax, allGather, psumScatter, allToAll, ppermute, axisIndex,
  type AxisNames, type AllGatherOptions, type PsumScatterOptions, type AllToAllOptions,
} from "./ops/collective.js";
export { runSpmdProgram } from "./sharding/run-program.js";
