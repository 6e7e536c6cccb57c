"""Peak of live activations over a topological schedule.

A tensor is live from the step of the node that writes it (graph inputs from
the first step) through the step of its last reader (graph outputs to the
end). At each step the node's inputs and outputs are live together. Weights
are not activations. Runtimes that reuse buffers in place can do better;
this is the schedule's own peak without in-place reuse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def peak_activations(
    node_inputs: Sequence[Sequence[str]],
    node_outputs: Sequence[Sequence[str]],
    graph_inputs: Sequence[str],
    graph_outputs: Sequence[str],
    sizes: Mapping[str, int],
    top: int = 5,
) -> tuple[int, int | None, list[str]]:
    """(peak bytes, step of the peak or None, names of the largest tensors live there)."""
    steps = len(node_inputs)
    if steps == 0:  # a graph that hands its inputs straight to its outputs runs nothing
        return 0, None, []
    birth: dict[str, int] = {name: 0 for name in graph_inputs if name in sizes}
    for step, outputs in enumerate(node_outputs):
        for name in outputs:
            if name in sizes:
                birth[name] = step
    death = dict(birth)
    for step, inputs in enumerate(node_inputs):
        for name in inputs:
            if name in birth:
                death[name] = max(death[name], step)
    for name in graph_outputs:
        if name in birth:
            death[name] = max(steps - 1, 0)
    change = [0] * (steps + 1)
    for name, start in birth.items():
        change[start] += sizes[name]
        change[death[name] + 1] -= sizes[name]
    peak, peak_step, live = 0, None, 0
    for step in range(steps):
        live += change[step]
        if live > peak:
            peak, peak_step = live, step
    if peak_step is None:
        return 0, None, []
    alive = [name for name, start in birth.items() if start <= peak_step <= death[name]]
    alive.sort(key=lambda name: (-sizes[name], name))
    return peak, peak_step, alive[:top]
