"""Peak of live activations over a topological schedule.

A tensor is live from the step of the node that writes it (graph inputs from
the first step) through the step of its last reader (graph outputs to the
end). At each step the node's inputs and outputs are live together. Weights
are not activations. Runtimes that reuse buffers in place can do better;
this is the schedule's own peak without in-place reuse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def lifetimes(
    node_inputs: Sequence[Sequence[str]],
    node_outputs: Sequence[Sequence[str]],
    graph_inputs: Sequence[str],
    graph_outputs: Sequence[str],
    sizes: Mapping[str, int],
) -> dict[str, tuple[int, int]]:
    """name -> (first step, last step) live, for every activation named in ``sizes`` (weights are not)."""
    steps = len(node_inputs)
    birth: dict[str, int] = {name: 0 for name in graph_inputs if name in sizes}
    for step, outputs in enumerate(node_outputs):
        for name in outputs:
            if name in sizes:
                birth[name] = step
    last_read: dict[str, int] = {}
    for step, inputs in enumerate(node_inputs):  # steps ascend: the last step to store a name is its last reader
        for name in inputs:
            last_read[name] = step
    for name in graph_outputs:
        last_read[name] = max(steps - 1, 0)
    return {name: (start, max(start, last_read.get(name, start))) for name, start in birth.items()}


def live_bytes_per_step(
    node_inputs: Sequence[Sequence[str]],
    node_outputs: Sequence[Sequence[str]],
    graph_inputs: Sequence[str],
    graph_outputs: Sequence[str],
    sizes: Mapping[str, int],
) -> list[int]:
    """Bytes live at each step (empty for a graph without nodes)."""
    spans = lifetimes(node_inputs, node_outputs, graph_inputs, graph_outputs, sizes)
    return live_bytes(spans, sizes, len(node_inputs))


def live_bytes(spans: Mapping[str, tuple[int, int]], sizes: Mapping[str, int], steps: int) -> list[int]:
    """Bytes live at each of ``steps`` steps, given every activation's (first, last) step."""
    if steps == 0:  # a graph that hands its inputs straight to its outputs runs nothing
        return []
    change = [0] * (steps + 1)
    for name, (start, end) in spans.items():
        change[start] += sizes[name]
        change[end + 1] -= sizes[name]
    curve, live = [], 0
    for step in range(steps):
        live += change[step]
        curve.append(live)
    return curve


def peak_activations(
    node_inputs: Sequence[Sequence[str]],
    node_outputs: Sequence[Sequence[str]],
    graph_inputs: Sequence[str],
    graph_outputs: Sequence[str],
    sizes: Mapping[str, int],
    top: int = 5,
) -> tuple[int, int | None, list[str]]:
    """(peak bytes, step of the peak or None, names of the largest tensors live there)."""
    spans = lifetimes(node_inputs, node_outputs, graph_inputs, graph_outputs, sizes)
    curve = live_bytes(spans, sizes, len(node_inputs))
    peak = max(curve, default=0)
    if peak <= 0:
        return 0, None, []
    peak_step = curve.index(peak)  # the first step at the peak
    alive = [name for name, (start, end) in spans.items() if start <= peak_step <= end]
    alive.sort(key=lambda name: (-sizes[name], name))
    return peak, peak_step, alive[:top]
