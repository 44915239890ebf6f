// The complete primitive table. Typed over every primitive name, so a primitive without all of its
// rules fails to compile; loading this module installs the table into core.

import { installLowerings } from "../core/lowering.js";
import { installEvalTable } from "../core/primitive.js";
import { installDiffRules, type PrimitiveTable } from "../core/rules.js";
import { collectiveDefs } from "./defs/collective.js";
import { elementwiseDefs } from "./defs/elementwise.js";
import { indexingDefs } from "./defs/indexing.js";
import { layoutDefs } from "./defs/layout.js";
import { linalgDefs } from "./defs/linalg.js";
import { normalizationDefs } from "./defs/normalization.js";
import { randomDefs } from "./defs/random.js";
import { reductionDefs } from "./defs/reduction.js";
import { shardMapCallDefs } from "./defs/shard-map-call.js";
import { softmaxDefs } from "./defs/softmax.js";
import { lowerings } from "./lowering.js";

export const primitives: PrimitiveTable = {
  ...elementwiseDefs,
  ...reductionDefs,
  ...softmaxDefs,
  ...normalizationDefs,
  ...linalgDefs,
  ...layoutDefs,
  ...indexingDefs,
  ...randomDefs,
  ...collectiveDefs,
  ...shardMapCallDefs,
};

installEvalTable(primitives);
installDiffRules(primitives);
installLowerings(lowerings);
