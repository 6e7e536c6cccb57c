"""The op-cost registry: one small function per op type, looked up by (domain, op_type).

A rule reads the node's typed inputs and outputs through a ``NodeContext`` and
returns an ``OpCost``. Parameters, output bytes and memory traffic are not the
rules' business: they follow from shapes alone and are computed once, in
``onnxcost.analysis``. An op without a rule costs zero MACs and is listed in
the report's warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import onnx
from onnx import helper

from ..shapes import TensorType
from ..tensors import numel, tensor_bytes

DEFAULT_DOMAIN = ""


@dataclass(frozen=True)
class OpCost:
    """What one execution of a node costs: multiply-accumulates, FLOPs (a MAC counts 2), transcendental ops, and the
    bytes it reads when that is not every input in full. docs/conventions.md has the rules."""

    macs: int = 0
    flops: int = 0
    special_ops: int = 0  # transcendentals: exp, log, sqrt, erf, tanh, sin, pow, ...
    bytes_read: int | None = None  # None: every input is read in full


class MissingShape(Exception):
    """A rule needed a shape that inference could not provide."""


class MalformedNode(Exception):
    """The node does not fit its op although onnx.checker passed it (the checker does not see shapes or equations):
    an input of the wrong rank, a zero head count. The analysis reports it as the model's fault, naming the node."""


@dataclass
class NodeContext:
    """What a rule reads about one node: the node, its inputs' and outputs' types (shapes resolved, unknown
    dimensions set to 1), the known small constant values, and the opset version of its domain."""

    node: onnx.NodeProto
    inputs: list[TensorType | None]  # None for an absent optional input
    outputs: list[TensorType | None]
    values: Mapping[str, np.ndarray]
    opset: int

    @cached_property
    def attrs(self) -> dict:
        """The node's attributes by name, decoded (strings as str)."""
        return {a.name: _decoded(helper.get_attribute_value(a)) for a in self.node.attribute}

    def attr(self, name: str, default=None):
        """One attribute's value, ``default`` when the node does not set it."""
        return self.attrs.get(name, default)

    def has_input(self, index: int) -> bool:
        """Whether input ``index`` is given (not absent, not an empty name for a skipped optional input)."""
        return index < len(self.node.input) and bool(self.node.input[index])

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
        return self.values.get(self.node.input[index]) if self.has_input(index) else None

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


Rule = Callable[[NodeContext], OpCost]

_RULES: dict[tuple[str, str], Rule] = {}
_NON_WEIGHT_INPUTS: dict[tuple[str, str], frozenset[int]] = {}
_INTEGER_WEIGHT_INPUTS: dict[tuple[str, str], frozenset[int]] = {}


def _domain(domain: str) -> str:
    return DEFAULT_DOMAIN if domain in ("", "ai.onnx") else domain


def register(
    *op_types: str,
    domain: str = DEFAULT_DOMAIN,
    non_weight_inputs: Iterable[int] = (),
    integer_weight_inputs: Iterable[int] = (),
) -> Callable[[Rule], Rule]:
    """Register ``rule`` for ``op_types``. ``non_weight_inputs``: constant float inputs that are
    settings, not parameters (Resize scales, Pad values). ``integer_weight_inputs``: int32 inputs
    that are parameters (a quantized bias); elsewhere int32 constants are indices and shapes."""
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
        return rule
    return decorate


def rule_for(domain: str, op_type: str) -> Rule | None:
    """The rule registered for the op ("ai.onnx" is the default domain ""), None when there is none."""
    return _RULES.get((_domain(domain), op_type))


def is_weight_slot(domain: str, op_type: str, index: int) -> bool:
    """Whether a stored float tensor at input ``index`` of the op counts as parameters (not a setting)."""
    return index not in _NON_WEIGHT_INPUTS.get((_domain(domain), op_type), ())


def is_integer_weight_slot(domain: str, op_type: str, index: int) -> bool:
    """Whether a stored int32 tensor at input ``index`` of the op counts as parameters (a quantized bias)."""
    return index in _INTEGER_WEIGHT_INPUTS.get((_domain(domain), op_type), ())


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
