"""The op-cost registry: one small function per op type, looked up by (domain, op_type).

A rule reads the node's typed inputs and outputs through a ``NodeContext`` and
returns an ``OpCost``. Parameters, output bytes and memory traffic are not the
rules' business: they follow from shapes alone and are computed once, in
``onnxcost.analysis``. An op without a rule costs zero MACs and is listed in
the report's warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import onnx
from onnx import helper

from ..shapes import TensorType
from ..tensors import LOW_BIT_INTEGER_TYPES, numel, tensor_bytes

DEFAULT_DOMAIN = ""

# Arithmetic precisions of MACs (docs/conventions.md, "MACs by precision").
FLOAT, INT8, WEIGHT_ONLY = "float", "int8", "weight_only"


@dataclass(frozen=True)
class OpCost:
    """What one execution of a node costs: multiply-accumulates, FLOPs (a MAC counts 2), transcendental ops, and the
    bytes it reads when that is not every input in full. docs/conventions.md has the rules."""

    macs: int = 0
    flops: int = 0
    special_ops: int = 0  # transcendentals: exp, log, sqrt, erf, tanh, sin, pow, ...
    bytes_read: int | None = None  # None: every input is read in full
    macs_int8: int = 0  # of ``macs``: integer arithmetic on 8-bit (or narrower) operands
    macs_weight_only: int = 0  # of ``macs``: float arithmetic on integer weights dequantized on the fly


class MissingShape(Exception):
    """A rule needed a shape that inference could not provide."""


class MalformedNode(Exception):
    """The node does not fit its op although onnx.checker passed it (the checker does not see shapes or equations):
    an input of the wrong rank, a zero head count. The analysis reports it as the model's fault, naming the node."""


@dataclass
class NodeContext:
    """What a rule reads about one node: the node, its inputs' and outputs' types (shapes resolved, unknown
    dimensions set to 1), the known small constant values, the opset version of its domain, and which inputs
    are dequantized integers (QDQ graphs)."""

    node: onnx.NodeProto
    inputs: list[TensorType | None]  # None for an absent optional input
    outputs: list[TensorType | None]
    values: Mapping[str, np.ndarray]
    opset: int
    dequantized: Mapping[str, int] = field(default_factory=dict)  # tensor -> dtype it was dequantized from
    names: list[str] | None = None  # the node's input names ("" for a skipped one); None: read from the node here

    def __post_init__(self):
        if self.names is None:  # each read of node.input makes new strings: the names are read once
            self.names = list(self.node.input)

    @cached_property
    def attrs(self) -> dict:
        """The node's attributes by name, decoded (strings as str)."""
        return {a.name: _decoded(helper.get_attribute_value(a)) for a in self.node.attribute}

    def attr(self, name: str, default=None):
        """One attribute's value, ``default`` when the node does not set it."""
        return self.attrs.get(name, default)

    def has_input(self, index: int) -> bool:
        """Whether input ``index`` is given (not absent, not an empty name for a skipped optional input)."""
        return index < len(self.names) and bool(self.names[index])

    def in_shape(self, index: int, ranks: Collection[int] | None = None) -> tuple[int, ...]:
        """Input ``index``'s shape; MissingShape when unknown, MalformedNode when its rank is not one of ``ranks``."""
        shape = self._shape(self.inputs, index, "input")
        if ranks is not None and len(shape) not in ranks:
            expected = " or ".join(map(str, ranks))
            raise MalformedNode(f"input {index} has rank {len(shape)}, the op takes rank {expected}")
        return shape

    def out_shape(self, index: int = 0) -> tuple[int, ...]:
        """Output ``index``'s shape; MissingShape when unknown."""
        return self._shape(self.outputs, index, "output")

    def in_numel(self, index: int) -> int:
        """Input ``index``'s element count; MissingShape when unknown."""
        return numel(self.in_shape(index))

    def out_numel(self, index: int = 0) -> int:
        """Output ``index``'s element count; MissingShape when unknown."""
        return numel(self.out_shape(index))

    def in_bytes(self, index: int) -> int:
        """Input ``index``'s size in bytes; 0 when its shape is unknown."""
        return self._bytes(self.inputs, index)

    def out_bytes(self, index: int = 0) -> int:
        """Output ``index``'s size in bytes; 0 when its shape is unknown."""
        return self._bytes(self.outputs, index)

    def require(self, condition: bool, problem: str) -> None:
        """MalformedNode(``problem``) unless ``condition``: a rule's check of what the checker cannot see."""
        if not condition:
            raise MalformedNode(problem)

    def value(self, index: int) -> np.ndarray | None:
        """The input's value when it is a known small constant (axes, sizes, trip counts)."""
        return self.values.get(self.names[index]) if self.has_input(index) else None

    def operand_type(self, index: int) -> int:
        """The dtype input ``index`` is stored in: the integer type behind a DequantizeLinear (QDQ), else its own
        type (0 when absent or unknown)."""
        if not self.has_input(index):
            return 0
        behind = self.dequantized.get(self.names[index])
        if behind is not None:
            return behind
        tensor = self.inputs[index] if index < len(self.inputs) else None
        return tensor.elem_type if tensor is not None else 0

    def precision(self, operands: Iterable[int] = (0, 1)) -> str:
        """How the products of these inputs are computed: INT8 when every operand is an integer of 8 bits or fewer
        (stored so, or dequantized from it: runtimes fuse such QDQ nodes into integer kernels), WEIGHT_ONLY when
        some are and others are float (the integers are dequantized, the arithmetic is float), else FLOAT."""
        low_bit = [self.operand_type(i) in LOW_BIT_INTEGER_TYPES for i in operands if self.has_input(i)]
        if low_bit and all(low_bit):
            return INT8
        return WEIGHT_ONLY if any(low_bit) else FLOAT

    @staticmethod
    def _shape(types: list[TensorType | None], index: int, kind: str) -> tuple[int, ...]:
        tensor = types[index] if index < len(types) else None
        if tensor is None or tensor.shape is None:
            raise MissingShape(f"{kind} {index}")
        return tensor.shape

    @staticmethod
    def _bytes(types: list[TensorType | None], index: int) -> int:
        tensor = types[index] if index < len(types) else None
        if tensor is None or tensor.shape is None:
            return 0
        return tensor_bytes(tensor.elem_type, numel(tensor.shape))


def _decoded(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8", errors="replace") for v in value]
    return value


def at_precision(cost: OpCost, precision: str) -> OpCost:
    """``cost`` with all its MACs at ``precision`` (FLOAT, INT8 or WEIGHT_ONLY)."""
    if precision == FLOAT and not cost.macs_int8 and not cost.macs_weight_only:
        return cost  # most nodes: nothing to move (and replace() is slow)
    return replace(cost, macs_int8=cost.macs if precision == INT8 else 0,
                   macs_weight_only=cost.macs if precision == WEIGHT_ONLY else 0)


Rule = Callable[[NodeContext], OpCost]
# A packed weight's logical element count and the width of its integers, from the node and the stored dims
# (None: this node's tensor is not packed after all).
PackedWeight = Callable[[NodeContext, tuple[int, ...]], "tuple[int, int] | None"]
SlotTest = Callable[[int], bool]

_RULES: dict[tuple[str, str], Rule] = {}
_NON_WEIGHT_INPUTS: dict[tuple[str, str], frozenset[int]] = {}
_INTEGER_WEIGHT_INPUTS: dict[tuple[str, str], frozenset[int]] = {}
_QUANTIZATION_INPUTS: dict[tuple[str, str], SlotTest] = {}
_PACKED_WEIGHTS: dict[tuple[str, str], dict[int, PackedWeight]] = {}


def _domain(domain: str) -> str:
    return DEFAULT_DOMAIN if domain in ("", "ai.onnx") else domain


def register(
    *op_types: str,
    domain: str = DEFAULT_DOMAIN,
    non_weight_inputs: Iterable[int] = (),
    integer_weight_inputs: Iterable[int] = (),
    quantization_inputs: Iterable[int] | SlotTest = (),
    packed_weights: Mapping[int, PackedWeight] | None = None,
) -> Callable[[Rule], Rule]:
    """Register ``rule`` for ``op_types``. ``non_weight_inputs``: constant float inputs that are
    settings, not parameters (Resize scales, Pad values). ``integer_weight_inputs``: integer inputs
    wider than 8 bits that are parameters (an int32 quantized bias); elsewhere such constants are
    indices and shapes. ``quantization_inputs``: scales and zero points (slots, or a test of a slot for
    variadic ops), counted apart as quantization parameters. ``packed_weights``: slot -> the logical
    element count and bit width of a weight packed into bytes (MatMulNBits' 4-bit blobs)."""
    def decorate(rule: Rule) -> Rule:
        for op_type in op_types:
            key = (_domain(domain), op_type)
            if key in _RULES:
                raise RuntimeError(f"two cost rules for {key}")
            _RULES[key] = rule
            if non_weight_inputs:
                _NON_WEIGHT_INPUTS[key] = frozenset(non_weight_inputs)
            if integer_weight_inputs:
                _INTEGER_WEIGHT_INPUTS[key] = frozenset(integer_weight_inputs)
            if callable(quantization_inputs):
                _QUANTIZATION_INPUTS[key] = quantization_inputs
            elif quantization_inputs:
                _QUANTIZATION_INPUTS[key] = frozenset(quantization_inputs).__contains__
            if packed_weights:
                _PACKED_WEIGHTS[key] = dict(packed_weights)
        return rule
    return decorate


def rule_for(domain: str, op_type: str) -> Rule | None:
    """The rule registered for the op ("ai.onnx" is the default domain ""), None when there is none."""
    return _RULES.get((_domain(domain), op_type))


def is_weight_slot(domain: str, op_type: str, index: int) -> bool:
    """Whether a stored float tensor at input ``index`` of the op counts as parameters (not a setting, not a
    scale or zero point)."""
    key = (_domain(domain), op_type)
    return index not in _NON_WEIGHT_INPUTS.get(key, ()) and not is_quantization_slot(domain, op_type, index)


def is_integer_weight_slot(domain: str, op_type: str, index: int) -> bool:
    """Whether a stored integer tensor wider than 8 bits at input ``index`` of the op counts as parameters (a
    quantized bias)."""
    return index in _INTEGER_WEIGHT_INPUTS.get((_domain(domain), op_type), ())


def is_quantization_slot(domain: str, op_type: str, index: int) -> bool:
    """Whether input ``index`` of the op is a scale or zero point (a quantization parameter, not a parameter)."""
    test = _QUANTIZATION_INPUTS.get((_domain(domain), op_type))
    return test is not None and test(index)


def packed_weight(domain: str, op_type: str, index: int) -> PackedWeight | None:
    """How to read the logical size of a weight packed into bytes at input ``index`` (None: stored as it is)."""
    return _PACKED_WEIGHTS.get((_domain(domain), op_type), {}).get(index)


# --- rule builders shared by the op families -----------------------------------

def per_output_element(flops: int, special: int = 0) -> Rule:
    """A rule costing ``flops`` (of which ``special`` transcendental) per output element."""
    def rule(ctx: NodeContext) -> OpCost:
        count = ctx.out_numel(0)
        return OpCost(flops=flops * count, special_ops=special * count)
    return rule


def variadic_per_output_element(extra: int = 0) -> Rule:
    """Sum/Max/Min/Mean of k inputs: k - 1 (+ ``extra``) operations per output element."""
    def rule(ctx: NodeContext) -> OpCost:
        inputs = sum(1 for name in ctx.node.input if name)
        return OpCost(flops=(max(inputs - 1, 0) + extra) * ctx.out_numel(0))
    return rule
