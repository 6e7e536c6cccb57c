"""A static activation arena: one offset per activation in a single buffer, what an embedded runtime allocates.

Which tensors: the main graph's inputs and every node's outputs, sized as schedule.py sizes them (a node's
output bytes shared by element count). Initializers and Constant weights are not activations: a runtime keeps
them in their own read-only buffer. Lifetimes are memory.py's (a tensor is live from the step that writes it,
graph inputs from the first step, through its last reader, graph outputs to the end), so two tensors may share
bytes exactly when no step sees both alive.

The planner is "greedy by size" (Pisarchyk and Lee, 2020; TFLite's GreedyMemoryPlanner): largest tensor first,
each put in the smallest gap left between the tensors already placed that live at the same time, else above
them; when that plan is above the peak, the tensor that reached the top goes to the front of the order and the
greedy runs again, a bounded number of times, keeping the smallest plan (DPN-92: 30% over the peak on the first
pass, at the peak after 19 reorders). Greedy by size is not always exact on chains (a chain 8, 3, 9, 10 bytes
gets 22 bytes where 19 suffice), so when no step has more than two tensors alive (chains, and chains with side
outputs) the tensors are placed two-sided instead: the conflict graph is then a forest, colour it in two, put
one colour at offset 0 and the other flush with the top of a buffer of the peak's size. Two tensors alive together fit because their sizes add
up to at most the peak: arena = peak, the least any plan can reach.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from .errors import OnnxcostError
from .memory import lifetimes, live_bytes
from .report import Report
from .schedule import output_sizes

SCHEMA = "onnxcost.arena/1"
GREEDY, REORDERED, TWO_SIDED = "greedy-by-size", "greedy-by-size, reordered", "two-sided"
REORDER_ROUNDS = 64  # greedy passes at most when the first is above the peak...
REORDER_WORK = 4_000_000  # ...and at most this many step entries in all (a 10k-node transformer: ~30k a pass)

# With in_place: ops whose output may overwrite an input's bytes (onnxsim's allowlists, element by element or a
# view of the same bytes); the input must be read by this node alone, not be a graph input or output, and have
# the output's size (which rules out broadcasting).
IN_PLACE_UNARY = frozenset({
    "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "Softplus", "Softsign", "HardSigmoid", "Clip", "Neg",
    "Abs", "Sqrt", "Exp", "Log", "Reciprocal", "Identity", "Erf", "Celu", "Round", "Ceil", "Floor", "Sign",
    "Reshape", "Flatten", "Squeeze", "Unsqueeze",
})
IN_PLACE_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Max", "Min", "And", "Or", "Xor", "Mod"})


@dataclass
class ArenaTensor:
    """One activation's place: bytes [offset, offset + size) of the arena, live over steps first..last."""

    name: str
    offset: int
    size: int  # bytes, rounded up to the alignment
    first_step: int
    last_step: int


@dataclass
class Arena:
    """A verified plan: the arena's size in bytes next to the report's peak of live activations (the least any
    plan needs without in-place reuse), and every tensor's offset, in schedule order."""

    size: int
    peak_bytes: int  # report.totals.peak_activation_bytes
    lower_bound: int  # the largest live bytes at one step, with these (aligned) sizes: = peak_bytes when alignment is 1
    strategy: str  # GREEDY or TWO_SIDED
    alignment: int
    tensors: list[ArenaTensor]
    # with in-place reuse: tensor -> the tensor whose bytes it shares (the first of its group); empty without
    aliases: dict[str, str] = field(default_factory=dict)
    in_place: bool = False

    @property
    def overhead_bytes(self) -> int:
        """What the plan wastes over the lower bound (0: optimal)."""
        return self.size - self.lower_bound

    def to_dict(self) -> dict:
        """The machine form; key order is part of the format."""
        return {
            "schema": SCHEMA,
            "size": self.size,
            "peak_bytes": self.peak_bytes,
            "lower_bound": self.lower_bound,
            "overhead_bytes": self.overhead_bytes,
            "strategy": self.strategy,
            "alignment": self.alignment,
            "tensors": [asdict(tensor) for tensor in self.tensors],
            **({"in_place": True, "aliases": self.aliases} if self.in_place else {}),
        }


class ArenaError(OnnxcostError):
    """An arena cannot be planned as asked (an alignment that is not a positive integer)."""


def plan_arena(report: Report, alignment: int = 1, in_place: bool = False) -> Arena:
    """Plan the activation arena of ``report``'s main graph, each tensor's size rounded up to ``alignment`` bytes
    (1: none; TFLite aligns to 16, onnxruntime to 64). ``in_place``: an element-wise op or a view may write its
    output over an input it alone reads (``in_place_groups``), as runtimes do; the lower bound is then the live
    bytes with those tensors counted once. The plan is verified before it is returned."""
    if isinstance(alignment, bool) or not isinstance(alignment, int) or alignment < 1:
        raise ArenaError(f"alignment must be a positive number of bytes, not {alignment!r}", parameter="alignment")
    main = [row for row in report.nodes if not row.scope]
    sizes = {tensor.name: tensor.bytes for tensor in report.model.inputs}
    for row in main:
        sizes.update(output_sizes(row))
    sizes = {name: -(-size // alignment) * alignment for name, size in sizes.items()}
    schedule = ([row.inputs for row in main], [row.outputs for row in main],
                [tensor.name for tensor in report.model.inputs], [tensor.name for tensor in report.model.outputs])
    spans = lifetimes(*schedule, sizes)
    if in_place:
        group = in_place_groups(main, sizes, set(schedule[2]), set(schedule[3]))
        group_spans: dict[str, tuple[int, int]] = {}
        group_sizes: dict[str, int] = {}
        for name, (start, end) in spans.items():
            root = group.get(name, name)
            first, last = group_spans.get(root, (start, end))
            group_spans[root] = (min(first, start), max(last, end))
            group_sizes[root] = max(group_sizes.get(root, 0), sizes[name])
        bound = max(live_bytes(group_spans, group_sizes, len(main)), default=0)
        offsets, strategy = plan_offsets(group_spans, group_sizes, bound)
        offsets = {name: offsets[group.get(name, name)] for name in spans}
        aliases = {name: group[name] for name in spans if group.get(name, name) != name}
    else:
        bound = max(live_bytes(spans, sizes, len(main)), default=0)
        offsets, strategy = plan_offsets(spans, sizes, bound)
        aliases = {}
    tensors = [ArenaTensor(name, offsets[name], sizes[name], start, end) for name, (start, end) in spans.items()]
    arena = Arena(max((t.offset + t.size for t in tensors), default=0), report.totals.peak_activation_bytes, bound,
                  strategy, alignment, tensors, aliases, in_place)
    clashes = overlaps(arena)
    if clashes:  # a bug in the planner, never the user's input: not an OnnxcostError
        raise AssertionError(f"arena plan overlaps: {clashes[0]}")
    return arena


def in_place_groups(main, sizes: Mapping[str, int], graph_inputs: set[str], graph_outputs: set[str]) -> dict[str, str]:
    """Tensor -> the first tensor of its in-place group (onnxsim's rules): an op of IN_PLACE_UNARY joins its output
    to input 0, one of IN_PLACE_BINARY to input 0 or else input 1, when that input is an activation read by this
    node alone, neither a graph input nor a graph output, of the output's size. Chains join into one group."""
    readers = Counter(name for row in main for name in row.inputs if name)
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    def eligible(candidate: str, output: str) -> bool:
        return (candidate in sizes and candidate not in graph_inputs and candidate not in graph_outputs
                and readers[candidate] == 1 and sizes[candidate] == sizes.get(output))

    for row in main:
        if row.domain not in ("", "ai.onnx") or len(row.outputs) != 1 or not row.inputs:
            continue
        if row.op_type in IN_PLACE_UNARY:
            candidates = row.inputs[:1]
        elif row.op_type in IN_PLACE_BINARY and len(row.inputs) == 2:
            candidates = row.inputs
        else:
            continue
        for candidate in candidates:
            if eligible(candidate, row.outputs[0]):
                parent[row.outputs[0]] = root(candidate)  # the output takes the group of the bytes it reuses
                break
    return {name: root(name) for name in parent}


def plan_offsets(spans: Mapping[str, tuple[int, int]], sizes: Mapping[str, int],
                 bound: int) -> tuple[dict[str, int], str]:
    """Offsets for tensors live over ``spans`` (name -> first, last step) with ``sizes`` in bytes; ``bound`` is
    the largest live bytes at one step. Two-sided when it applies (exact); else greedy by size, and when that
    is above ``bound``, greedy again with the tensor that reached the top moved to the front of the order,
    a few times, keeping the smallest plan (DPN-92: 30% over the peak, then the peak after 19 reorders)."""
    pairs = _two_alive_at_most(spans, sizes)
    if pairs is not None:
        return _two_sided(spans, sizes, bound, pairs), TWO_SIDED
    order = sorted((name for name in spans if sizes[name] > 0), key=lambda n: (-sizes[n], spans[n][0], n))
    best = greedy_by_size(spans, sizes, order)
    best_size, strategy = _extent(best, sizes), GREEDY
    work = sum(end - start + 1 for start, end in spans.values())  # what one pass costs, in step entries
    rounds = min(REORDER_ROUNDS, REORDER_WORK // max(work, 1))
    current = best
    for _ in range(rounds):
        if best_size <= bound:
            break
        top = max(current, key=lambda n: (current[n] + sizes[n], n))
        order.remove(top)
        order.insert(0, top)
        current = greedy_by_size(spans, sizes, order)
        if _extent(current, sizes) < best_size:
            best, best_size, strategy = current, _extent(current, sizes), REORDERED
    return best, strategy


def _extent(offsets: Mapping[str, int], sizes: Mapping[str, int]) -> int:
    return max((offsets[name] + sizes[name] for name in offsets), default=0)


def greedy_by_size(spans: Mapping[str, tuple[int, int]], sizes: Mapping[str, int],
                   order: list[str] | None = None) -> dict[str, int]:
    """Greedy by size: largest first (then earliest, then by name, for a deterministic plan; or ``order``),
    each in the smallest gap that fits between the placed tensors it shares a step with, else just above them."""
    offsets = {name: 0 for name in spans}
    placed_at: dict[int, list[str]] = {}  # step -> tensors placed that are live there
    if order is None:
        order = sorted((name for name in spans if sizes[name] > 0), key=lambda n: (-sizes[n], spans[n][0], n))
    for name in order:
        start, end = spans[name]
        size = sizes[name]
        neighbours = {other for step in range(start, end + 1) for other in placed_at.get(step, ())}
        taken = sorted((offsets[other], offsets[other] + sizes[other]) for other in neighbours)
        best, best_gap, top = None, None, 0
        for low, high in taken:
            gap = low - top
            if gap >= size and (best_gap is None or gap < best_gap):
                best, best_gap = top, gap
            top = max(top, high)
        offsets[name] = top if best is None else best
        for step in range(start, end + 1):
            placed_at.setdefault(step, []).append(name)
    return offsets


def _two_alive_at_most(spans: Mapping[str, tuple[int, int]], sizes: Mapping[str, int]) -> list[tuple[str, str]] | None:
    """The pairs of tensors alive together when no step has more than two (of nonzero size) alive, else None."""
    starting: dict[int, list[str]] = {}
    for name, (start, _) in spans.items():
        if sizes[name] > 0:
            starting.setdefault(start, []).append(name)
    alive: list[str] = []
    pairs = []
    for step in sorted(starting):
        alive = [name for name in alive if spans[name][1] >= step]
        for name in starting[step]:
            pairs.extend((other, name) for other in alive)
            alive.append(name)
        if len(alive) > 2:
            return None
    return pairs


def _two_sided(spans: Mapping[str, tuple[int, int]], sizes: Mapping[str, int], bound: int,
               pairs: list[tuple[str, str]]) -> dict[str, int]:
    """Colour the conflict forest in two (breadth first from each tensor in schedule order): colour 0 at offset
    0, colour 1 ending at ``bound``."""
    neighbours: dict[str, list[str]] = {}
    for a, b in pairs:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    colour: dict[str, int] = {}
    for root in spans:
        if root in colour:
            continue
        colour[root], queue = 0, [root]
        while queue:
            name = queue.pop()
            for other in neighbours.get(name, ()):
                if other not in colour:
                    colour[other] = 1 - colour[name]
                    queue.append(other)
    return {name: 0 if colour[name] == 0 or sizes[name] == 0 else bound - sizes[name] for name in spans}


def overlaps(arena: Arena) -> list[str]:
    """Every fault of the plan, in words (empty when it is sound): a tensor outside [0, size), or two tensors
    alive at the same step whose bytes [offset, offset + size) intersect. Independent of the planner: it sweeps
    the steps and compares each live tensor with the one below it in the arena."""
    faults = [f"{t.name} at [{t.offset}, {t.offset + t.size}) outside the arena of {arena.size} bytes"
              for t in arena.tensors if t.offset < 0 or t.offset + t.size > arena.size]
    tensors = _groups_as_tensors(arena, faults) if arena.aliases else arena.tensors
    starting: dict[int, list[ArenaTensor]] = {}
    for tensor in tensors:
        if tensor.size > 0:
            starting.setdefault(tensor.first_step, []).append(tensor)
    # Two tensors alive at the same step are both alive at the later of their first steps: checking the steps
    # where some tensor starts finds every pair.
    alive: list[ArenaTensor] = []
    for step in sorted(starting):
        alive = [t for t in alive if t.last_step >= step] + starting[step]
        below = None  # of the tensors seen so far, the one reaching highest
        for tensor in sorted(alive, key=lambda t: (t.offset, t.name)):
            if below is not None and tensor.offset < below.offset + below.size:
                faults.append(f"{below.name} [{below.offset}, {below.offset + below.size}) and {tensor.name} "
                              f"[{tensor.offset}, {tensor.offset + tensor.size}) both alive at step {step}")
            if below is None or tensor.offset + tensor.size > below.offset + below.size:
                below = tensor
    return faults


def _groups_as_tensors(arena: Arena, faults: list[str]) -> list[ArenaTensor]:
    """In-place groups as one tensor each (its members must share one offset), over the union of their steps."""
    merged: dict[str, ArenaTensor] = {}
    for tensor in arena.tensors:
        key = arena.aliases.get(tensor.name, tensor.name)
        seen = merged.get(key)
        if seen is None:
            merged[key] = ArenaTensor(key, tensor.offset, tensor.size, tensor.first_step, tensor.last_step)
            continue
        if seen.offset != tensor.offset:
            faults.append(f"{tensor.name} reuses {key}'s bytes in place but sits at {tensor.offset}, not {seen.offset}")
        seen.size = max(seen.size, tensor.size)
        seen.first_step, seen.last_step = min(seen.first_step, tensor.first_step), max(seen.last_step, tensor.last_step)
    return list(merged.values())
