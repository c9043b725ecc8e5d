"""The step-graph contract as data: every graph, node and edge attribute (type, required or not,
allowed values, meaning), the vocabularies (kinds, phases, roles) and the structural rules.

This is the one description of the contract. ``validate`` (tracers/contract.py) is driven by it
and the tables in docs/contract.md are generated from it by tracers/schema_doc.py
(``python -m graphstage.tracers.schema_doc --write docs/contract.md``); a test fails when they
differ.

Framework-free and dependency-free: nothing here imports networkx, torch or TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1
FULL_VALUE_LIMIT = 16  # a value summary carries the full values up to this many elements
SUMMARY_FIELDS = ("min", "max", "mean", "std", "norm")
NONE = type(None)


@dataclass(frozen=True)
class Value:
    """One allowed value of an enumerated attribute and what it means."""

    name: str
    meaning: str
    key: str = ""  # for node kinds: the prefix every key of this kind starts with


@dataclass(frozen=True)
class Attr:
    """One attribute of a graph, node or edge: its types, whether it must be there, what it may
    hold (values, minimum, a node reference) and what it means."""

    name: str
    types: tuple[type, ...]
    meaning: str
    required: bool = False
    values: tuple[Value, ...] = ()
    minimum: int | None = None
    ref: str = ""  # "node": the id of a node of the same graph; "nodes": a list of such ids

    @property
    def type_text(self) -> str:
        """The types as the docs print them: 'str', 'float or null', ..."""
        names = [("null" if t is NONE else t.__name__) for t in self.types]
        return " or ".join(names)

    @property
    def value_names(self) -> frozenset[str]:
        """The allowed values (empty: any value of the right type)."""
        return frozenset(v.name for v in self.values)


@dataclass(frozen=True)
class Rule:
    """A structural rule validate() checks beyond the attributes of one node or edge."""

    name: str
    text: str


PHASES = (
    Value("forward", "the forward pass, up to the loss"),
    Value("backward", "the gradient computation"),
    Value("update", "the optimizer's (or hand-written) change of the parameters"),
)

KINDS = (
    Value("input", "data fed to the step (batch, labels, placeholders); a source", "input:"),
    Value("parameter", "trainable state: nn.Parameter, a requires_grad leaf, a trainable "
          "tf.Variable; a source", "param:"),
    Value("constant", "a value baked into the graph (TF `Const`, a torch scalar), or state "
          "that is not trained (torch buffer, non-trainable tf.Variable: key `buffer:<name>`); "
          "a source"),
    Value("op", "an executed operation"),
    Value("output", "an op whose result is the model's output"),
    Value("loss", "the op whose result the gradient is taken of"),
    Value("grad_acc", "where the gradient of a parameter (or input) lands: AccumulateGrad, "
          "the tape's or tf.gradients' result", "grad:"),
    Value("update", "the optimizer's (or hand-written) change to one parameter or state "
          "variable", "update:"),
)

# Kinds of source nodes: lit from the start of an animation, never numbered (order -1).
SOURCE_KINDS = frozenset({"input", "parameter", "constant"})

ROLES = (
    Value("data", "a forward tensor from producer to consumer"),
    Value("gradient", "a gradient flowing from the loss towards the parameters"),
    Value("saved", "a forward tensor kept for the backward pass"),
    Value("control", "ordering only, no data (TF control dependencies)"),
    Value("update", "a gradient (or the variable) consumed by an update"),
)

CAPTURES = (
    Value("autograd", "the PyTorch tracer: one training step run eagerly under autograd hooks"),
    Value("tf.function", "the TensorFlow tracer: the step's tf.function graph"),
    Value("tf1 graph", "the TensorFlow tracer: a TF1 tf.Graph run by Session.run"),
    Value("tf eager", "the TensorFlow tracer: an eager step (no tf.function), op by op"),
)

FRAMEWORKS = (
    Value("torch", "traced by the PyTorch tracer"),
    Value("tensorflow", "traced by the TensorFlow tracer"),
)

ORDER_SOURCES = (
    Value("runtime", "the order TensorFlow's runtime started the ops (profiler trace)"),
    Value("topological", "a topological order of the graph, ties by creation order"),
)

TIMING_SOURCES = (
    Value("first_run", "the concrete function's first run (includes TensorFlow's warm-up)"),
    Value("best_of_runs", "per op the shortest time of the concrete function's first runs "
          "(up to 3, `timed_runs`), kept for every later step of it (default, `timing: "
          "\"once\"`)"),
    Value("every_step", "this step's own run (`timing: \"every\"`)"),
)

GRAPH_ATTRS = (
    Attr("schema", (int,), f"`{SCHEMA_VERSION}`, the contract version", required=True),
    Attr("framework", (str,), "the framework traced", required=True, values=FRAMEWORKS),
    Attr("model", (str,), "the model's display name (`NAME` in its script)", required=True),
    Attr("step", (int,), "index of the training step, from 0", required=True, minimum=0),
    Attr("capture", (str,), "how the step was captured", required=True, values=CAPTURES),
    Attr("loss", (float, NONE), "the loss value of this step", required=True),
    Attr("same_as_previous", (bool,), "this step's structure equals the previous step's (set "
         "by the session)", required=True),
    Attr("backward_calls", (int,), "torch: how many backward passes the step ran"),
    Attr("losses", (list,), "torch: the value of every scalar backward root"),
    Attr("concrete_function", (str,), "TF: the name of the concrete function that ran"),
    Attr("retraced", (bool,), "TF: TensorFlow traced a new concrete function for this step"),
    Attr("retrace_reason", (str, NONE), "TF: why it retraced (the argument that changed)"),
    Attr("traced_new", (bool,), "TF: this step ran a concrete function not seen before"),
    Attr("reused_concrete_function", (bool,), "TF: this step reused an earlier step's "
         "concrete function"),
    Attr("calls", (list,), "TF: the tf.function calls the step made, in order: `{label, "
         "function, concrete_function, traced_new, retraced, retrace_reason, "
         "reused_concrete_function, gradients, values, wall_ms}`; with several, each `label` is "
         "a top-level scope and prefixes its nodes' keys"),
    Attr("eager_ops", (int,), "TF eager steps: the number of eager ops the step ran",
         minimum=0),
    Attr("graph_ops", (int,), "TF: the number of ops in the TensorFlow graph", minimum=0),
    Attr("op_count", (int,), "TF: the number of TF ops the step graph shows", minimum=0),
    Attr("folded_ops", (dict,), "TF: variable node id -> the TF ops folded into it (handle, "
         "reads)"),
    Attr("fold", (bool,), "TF: variable handles and reads are folded into one node"),
    Attr("values_policy", (str,), "TF: which tensors' values were summarised (`auto`, `all`, "
         "`params`, `none`)"),
    Attr("order_source", (str,), "TF: where `order` comes from", values=ORDER_SOURCES),
    Attr("order_recorded_ops", (int,), "TF: how many ops the runtime order placed", minimum=0),
    Attr("timing_source", (str,), "TF: which profiled run `duration_us` comes from (absent "
         "when nothing was timed)", values=TIMING_SOURCES),
    Attr("timed_ops", (int,), "TF: how many op nodes the profiler measured (the others that "
         "ran got `duration_us` 0: Grappler removed them)", minimum=0),
    Attr("timed_runs", (int,), "TF: how many profiled runs `duration_us` is the best of",
         minimum=1),
)

NODE_ATTRS = (
    Attr("label", (str,), "what a person reads: op name, parameter name", required=True),
    Attr("op", (str,), "framework-native type: `linear`, `AddmmBackward0`, `MatMul`, "
         "`AccumulateGrad`", required=True),
    Attr("kind", (str,), "what the node stands for (kinds below)", required=True, values=KINDS),
    Attr("phase", (str,), "the pass it belongs to", required=True, values=PHASES),
    Attr("scope", (str,), "module path or Keras layer path, `/`-separated (`layer1/0/conv1`); "
         "a flat Keras model's layers under the groups their names spell "
         "(`block/block_1/block_1_expand`); `\"\"` at top level", required=True),
    Attr("order", (int,), "execution index within its phase; `-1` for sources (inputs, "
         "parameters, constants) and nodes that did not run", required=True, minimum=-1),
    Attr("key", (str,), "stable identity across steps (below)", required=True),
    Attr("shape", (list, NONE), "shape of the node's (first) output"),
    Attr("dtype", (str, NONE), "dtype of the node's (first) output"),
    Attr("device", (str, NONE), "device of the node's (first) output"),
    Attr("value", (dict, NONE), "value summary of the output (below)"),
    Attr("grad", (dict, NONE), "parameters (and inputs): summary of the gradient right after "
         "the backward pass"),
    Attr("no_grad", (bool,), "parameters: `true` when no gradient reached it this step"),
    Attr("forward", (str, NONE), "backward nodes: id of the forward node it differentiates",
         ref="node"),
    Attr("backward", (list,), "forward nodes: ids of their backward nodes", ref="nodes"),
    Attr("param", (str, NONE), "`grad_acc` and `update` nodes: id of their parameter (or "
         "input, or state variable) node", ref="node"),
    Attr("saved", (list,), "backward nodes: `{name, shape, dtype, from, bytes}` per "
         "saved-for-backward tensor; `from` is the id of the node that produced it, or null"),
    Attr("saved_bytes", (int,), "backward nodes: bytes of the tensors saved for them during "
         "the forward pass (the memory backward keeps alive). torch: what autograd saved; TF: "
         "the forward tensors (not `Const`) the op reads, each counted once, at its first "
         "backward reader in `order`, from static shapes", minimum=0),
    Attr("duration_us", (float,), "ops that ran: measured wall time in microseconds. torch: "
         "forward the torch function call, backward the autograd node from its pre- to its "
         "post-hook, update the sum of its elementary ops; TF: the summed kernel times the "
         "runtime profiler recorded for the node's ops (a fused kernel's time shared by the "
         "ops it replaced; `0` for ops Grappler removed), see `timing_source`", minimum=0),
    Attr("start_us", (float,), "ops that ran: when it started, in microseconds from the start "
         "of the step's recording (torch) or its first recorded kernel (TF)"),
    Attr("output_bytes", (int,), "forward ops: bytes of the tensors the op returned (TF: from "
         "static shapes and dtypes, an unknown dimension from the first run's value summary; "
         "absent where neither tells)", minimum=0),
    Attr("ops", (list,), "`update` nodes: the elementary ops the update folds (`lerp_`, "
         "`addcdiv_`, ...)"),
    Attr("children", (list,), "nested graphs: `[{\"name\": str, \"graph\": DiGraph}]` (TF "
         "While/If bodies, called functions); same node and edge attributes, no graph "
         "attributes"),
    Attr("name", (str,), "framework-native name (TF op name, parameter name)"),
    Attr("inplace", (bool,), "torch forward ops: wrote into an input"),
    Attr("requires_grad", (bool,), "torch forward ops: the output requires grad"),
    Attr("checkpointed", (bool,), "torch forward ops: ran under activation checkpointing "
         "(`torch.utils.checkpoint`); nothing saved for backward, run again there (the rerun is "
         "not drawn)"),
)

EDGE_ATTRS = (
    Attr("phase", (str,), "the pass it belongs to", required=True, values=PHASES),
    Attr("role", (str,), "what it carries (roles below)", required=True, values=ROLES),
    Attr("shape", (list, NONE), "shape of the tensor carried (forward data and saved edges)"),
    Attr("dtype", (str, NONE), "dtype of the tensor carried"),
)

RULES = (
    Rule("graph-type", "a step graph is a `networkx.DiGraph` (not a multigraph); node ids are "
         "str"),
    Rule("attributes", "every required attribute is there, every attribute listed above has "
         "its type, and enumerated attributes hold one of their values"),
    Rule("unique-keys", "no two nodes of one graph share a `key`"),
    Rule("key-prefix", "keys of inputs, parameters, gradient accumulators and updates start "
         "with their kind's prefix (`input:`, `param:`, `grad:`, `update:`)"),
    Rule("references", "`forward`, `param`, every id in `backward` and every `saved[].from` "
         "name a node of the same graph, never the node itself; `backward` and `forward` "
         "agree both ways; `param` names a source"),
    Rule("source-order", "sources (`input`, `parameter`, `constant`) have `order` -1"),
    Rule("order", "within a phase no two nodes share an `order` >= 0, and an edge between two "
         "executed nodes of one phase goes from the lower order to the higher"),
    Rule("no-edge-into-parameter", "no edge ends at a `parameter` node (its gradient and "
         "update refer to it with `param`)"),
    Rule("acyclic", "the graph, and each nested graph, is acyclic"),
    Rule("summaries", f"`value` and `grad` summaries hold numbers in {', '.join(SUMMARY_FIELDS)} "
         f"and at most {FULL_VALUE_LIMIT} `values`"),
    Rule("children", "each `children` entry is `{name, graph}` and its graph follows the "
         "same rules"),
)

KEY_PREFIX = {v.name: v.key for v in KINDS if v.key}


def names(values: tuple[Value, ...]) -> tuple[str, ...]:
    """The names of a vocabulary, in order (e.g. the phases in execution order)."""
    return tuple(v.name for v in values)
