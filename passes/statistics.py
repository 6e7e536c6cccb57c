"""Second moments of each conv's input patches over calibration data: what the calibrated factors are computed from.

    calibration batches ──onnxruntime, conv inputs exposed as outputs──▶ patches ──▶ Σ p pᵀ per block of channels

Statistics, not activations: a batch's tensors are dropped once its patches are added, so the memory is that
of the sums (per block of b input channels, a (b·K) x (b·K) matrix; b = 1 for the separable form, Cin/G for
the grouped form), whatever the number of samples. One onnxruntime session serves every conv of the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx

from onnxcost.validation import Progress, run, session

from .errors import RewriteOptionError
from .patches import conv_patches
from .sites import ConvSite

CHUNK_ROWS = 4096  # patch rows added at a time: bounds the float64 copy of a batch's patches


@dataclass
class SecondMoments:
    """Σ p pᵀ over patch rows, for blocks of ``block`` consecutive input channels of a conv with K-element
    kernels: ``sums`` (Cin/block, block·K, block·K) float64, a block's patch laid out channel-major; ``rows``
    is how many patch rows (samples x output positions) were added, ``samples`` how many samples."""

    block: int
    sums: np.ndarray
    rows: int = 0
    samples: int = 0

    @classmethod
    def empty(cls, cin: int, kernel_elements: int, block: int) -> SecondMoments:
        """Zero sums for ``cin`` input channels in blocks of ``block``."""
        size = block * kernel_elements
        return cls(block=block, sums=np.zeros((cin // block, size, size)))

    def add(self, patches: np.ndarray, samples: int) -> None:
        """Adds (rows, Cin, K) patches of ``samples`` samples."""
        rows, cin, k = patches.shape
        for start in range(0, rows, CHUNK_ROWS):
            chunk = patches[start:start + CHUNK_ROWS].astype(np.float64)
            blocks = chunk.reshape(len(chunk), cin // self.block, self.block * k).transpose(1, 0, 2)
            self.sums += blocks.transpose(0, 2, 1) @ blocks
        self.rows += rows
        self.samples += samples

    def moments(self) -> np.ndarray:
        """E[p pᵀ] per block: the sums over the rows added."""
        if self.rows == 0:
            raise ValueError("no patches were added")
        return self.sums / self.rows


def exposed(model: onnx.ModelProto, names: Iterable[str], only: bool = False) -> onnx.ModelProto:
    """A copy of ``model`` with the tensors ``names`` as extra graph outputs (those that are not inputs or
    outputs already), so one run gives every conv's input. ``only``: ``names`` are its only outputs and the
    nodes they do not need are dropped (kept all when a node has a subgraph, which may read any tensor).
    Only a probe: never written, never rewritten."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    graph = probe.graph
    names = list(dict.fromkeys(names))
    inputs = {v.name for v in graph.input}
    if only:
        del graph.output[:]
    have = {v.name for v in graph.output} | inputs
    for name in names:
        if name not in have:
            graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    if only and not any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                        for node in graph.node for a in node.attribute):
        needed, kept = set(names), []
        for node in reversed(graph.node):
            if needed.intersection(node.output):
                kept.append(node)
                needed.update(node.input)
        del graph.node[:]
        graph.node.extend(reversed(kept))
    return probe


class Probe:
    """One onnxruntime session of ``model`` with the tensors ``names`` exposed (``only``: pruned to them);
    ``fetch(batch)`` gives them (a graph input among them comes from the batch itself)."""

    def __init__(self, model: onnx.ModelProto, names: Sequence[str], only: bool = False):
        self.names = list(dict.fromkeys(names))
        inputs = {v.name for v in model.graph.input}
        computed = [name for name in self.names if name not in inputs]
        # Nothing to compute when every tensor asked for is a graph input (a pruned model would be empty).
        self.session = session(exposed(model, computed, only), "the model with its conv tensors exposed") \
            if computed else None

    def fetch(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The exposed tensors of one run on ``batch``."""
        outputs = {}
        if self.session is not None:
            feeds = {i.name: batch[i.name] for i in self.session.get_inputs()}  # a pruned model may need fewer
            outputs = run(self.session, feeds, "the model on calibration data")
        return {name: batch[name] if name in batch else outputs[name] for name in self.names}


def batch_samples(batch: Mapping[str, np.ndarray]) -> int:
    """The number of samples in a batch (the first axis of its arrays)."""
    return len(next(iter(batch.values())))


def collect_moments(model: onnx.ModelProto, sites: Sequence[ConvSite], blocks: Mapping[str, int],
                    batches: Iterable[Mapping[str, np.ndarray]], progress: Progress | None = None,
                    total: int | None = None) -> dict[str, SecondMoments]:
    """Per site, the second moments of its input patches in blocks of ``blocks[site.name]`` channels, over every
    sample of ``batches`` run through ``model`` (one session, all sites' inputs at once)."""
    moments = {s.name: SecondMoments.empty(s.cin, int(np.prod(s.kernel)), blocks[s.name]) for s in sites}
    probe = Probe(model, [s.input.name for s in sites])
    seen = 0
    for batch in batches:
        if progress is not None:
            progress("collecting statistics", seen, max(total or 0, seen + 1))
        tensors = probe.fetch(batch)
        samples = batch_samples(batch)
        for site in sites:
            moments[site.name].add(conv_patches(tensors[site.input.name], site), samples)
        del tensors  # only the statistics outlive a batch
        seen += samples
    if progress is not None:
        progress("collecting statistics: done", seen, seen)
    for name, m in moments.items():
        if not np.isfinite(m.sums).all():
            raise RewriteOptionError(f"calibration: the input of conv '{name}' is not finite on the calibration data",
                                     parameter="calibration")
    return moments
