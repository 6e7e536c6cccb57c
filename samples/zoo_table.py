"""Write docs/zoo.md: one row per zoo model, every number from the report of the built model.

    python -m onnxcost.samples.zoo_table docs/zoo.md

The rows are what ``onnxcost report --sample NAME`` prints in its totals; tests/test_zoo.py
checks that the committed file equals what this module renders.

To add a column: a field on ``Row`` filled in ``row`` (from the report or the model), one
``Column`` in ``COLUMNS`` (header, Markdown alignment, how to write the cell), and a line in
the introduction if it needs a convention.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
import onnxcost
from onnxcost import receptive
from onnxcost.files import write_atomic
from onnxcost.report import Report

from . import SAMPLES

COMMAND = "python -m onnxcost.samples.zoo_table docs/zoo.md"

# Display name and the architecture's source, per sample.
ARCHITECTURES = {
    "alexnet": ("AlexNet", "Krizhevsky et al. 2012; torchvision (single stream)"),
    "alexnet_caffe": ("AlexNet (Caffe)", "Krizhevsky et al. 2012; BVLC Caffe (2 groups, LRN)"),
    "vgg16": ("VGG-16", "Simonyan & Zisserman 2014, config. D"),
    "vgg19": ("VGG-19", "Simonyan & Zisserman 2014, config. E"),
    "resnet18": ("ResNet-18", "He et al. 2015; torchvision"),
    "resnet34": ("ResNet-34", "He et al. 2015; torchvision"),
    "resnet50": ("ResNet-50", "He et al. 2015; torchvision (stride on the 3x3)"),
    "preact_resnet164": ("Pre-act ResNet-164", "He et al. 2016, CIFAR-10"),
    "wide_resnet50_2": ("Wide ResNet-50-2", "Zagoruyko & Komodakis 2016; torchvision"),
    "resnext50_32x4d": ("ResNeXt-50 32x4d", "Xie et al. 2016; torchvision"),
    "se_resnet50": ("SE-ResNet-50", "Hu et al. 2017, Caffe layout"),
    "se_resnext50_32x4d": ("SE-ResNeXt-50 32x4d", "Hu et al. 2017; Cadene's pretrained-models"),
    "squeezenet1_0": ("SqueezeNet 1.0", "Iandola et al. 2016; torchvision"),
    "squeezenet1_0_simple_bypass": ("SqueezeNet 1.0, simple bypass", "Iandola et al. 2016, Fig. 2 (middle)"),
    "squeezenet1_0_complex_bypass": ("SqueezeNet 1.0, complex bypass", "Iandola et al. 2016, Fig. 2 (right)"),
    "squeezenet1_1": ("SqueezeNet 1.1", "Iandola et al. 2016 (v1.1); torchvision"),
    "mobilenet_v1": ("MobileNet V1 1.0", "Howard et al. 2017"),
    "mobilenet_v2": ("MobileNet V2 1.0", "Sandler et al. 2018; torchvision"),
    "shufflenet_v1_g3": ("ShuffleNet V1 1.0x g=3", "Zhang et al. 2017; authors' code"),
    "shufflenet_v2_x1_0": ("ShuffleNet V2 1.0x", "Ma et al. 2018; torchvision"),
    "xception": ("Xception", "Chollet 2016; Keras"),
    "densenet121": ("DenseNet-121", "Huang et al. 2016; torchvision"),
    "dpn68": ("DPN-68", "Chen et al. 2017; authors' code"),
    "dpn92": ("DPN-92", "Chen et al. 2017; authors' code"),
    "inception_v3": ("Inception-v3", "Szegedy et al. 2015; torchvision, no aux. classifier"),
    "inception_v4": ("Inception-v4", "Szegedy et al. 2016; Cadene's pretrained-models"),
    "inception_resnet_v2": ("Inception-ResNet-v2", "Szegedy et al. 2016; Cadene's pretrained-models"),
    "vit_b_16": ("ViT-B/16", "Dosovitskiy et al. 2020; torchvision"),
}


@dataclass(frozen=True)
class Row:
    """One model's line of docs/zoo.md: totals of its report (parameters, MACs, peak activation
    bytes and the node at the peak, Conv/Gemm/MatMul count) and the input shape as '1x3x224x224'."""
    name: str
    title: str
    source: str
    input_shape: str
    params: int
    macs: int
    peak_activation_bytes: int
    peak_node: str
    compute_layers: int
    arena_bytes: int
    int8_bytes: int
    receptive_field: str
    receptive_node: str


def row(name: str, report: Report) -> Row:
    """The table row of the sample ``name`` from its report."""
    from onnxcost.arena import plan_arena
    from onnxcost.precision_sizes import precision_sizes

    title, source = ARCHITECTURES[name]
    shape = report.model.inputs[0].shape
    totals = report.totals
    field, node = widest_field(report)
    return Row(name, title, source, "x".join(str(d) for d in shape), totals.params, totals.macs,
               totals.peak_activation_bytes, report.peak.node or "", totals.compute_layers,
               plan_arena(report).size, precision_sizes(report, [8]).sizes[0].bytes, field, node)


# pools over the whole map, whose field is the image plus padding: not the network's own field
WHOLE_MAP_POOLS = receptive.GLOBAL_POOLS | {"ReduceMean", "ReduceMax"}


def widest_field(report: Report) -> tuple[str, str]:
    """The largest receptive field of a node that is not a global pool ('196x196', its node), or ('-', '')."""
    widest = max(((r.receptive_field, r.name) for r in report.nodes if r.receptive_field
                  and r.op_type not in WHOLE_MAP_POOLS and all(isinstance(v, int) for v in r.receptive_field)), default=None)
    return ("-", "") if widest is None else ("x".join(str(v) for v in widest[0]), widest[1])


@dataclass(frozen=True)
class Column:
    """One column of the table: its header, its Markdown alignment ('---' or '--:') and its cell."""
    header: str
    align: str
    cell: Callable[[Row], str]


COLUMNS = [
    Column("Model", "---", lambda r: f"{r.title} (`{r.name}`)"),
    Column("Architecture", "---", lambda r: r.source),
    Column("Input", "---", lambda r: r.input_shape),
    Column("Params", "--:", lambda r: f"{r.params:,}"),
    Column("MACs", "--:", lambda r: f"{r.macs:,}"),
    Column("Peak activations (bytes)", "--:", lambda r: f"{r.peak_activation_bytes:,}"),
    Column("at node", "---", lambda r: f"`{r.peak_node}`"),
    Column("Compute layers", "--:", lambda r: f"{r.compute_layers}"),
    Column("Arena (bytes)", "--:", lambda r: f"{r.arena_bytes:,}"),
    Column("Weights at int8 (bytes)", "--:", lambda r: f"{r.int8_bytes:,}"),
    Column("Receptive field", "--:", lambda r: r.receptive_field),
    Column("at node", "---", lambda r: f"`{r.receptive_node}`" if r.receptive_node else ""),
]

INTRODUCTION = [
    "# The sample zoo",
    "",
    f"<!-- Generated by `{COMMAND}`; do not edit by hand. -->",
    "",
    "Every built-in sample: batch 1, float32, seeded random weights, each at its architecture's usual",
    "resolution. `onnxcost report --sample NAME` shows one node by node, `onnxcost sample NAME -o FILE.onnx`",
    "writes it. The numbers are the reports' totals; tests/test_zoo.py checks each parameter count and MAC",
    "count against the figures the architectures' authors or the reference implementations published, with",
    "the sources, and that this file is what the command writes.",
    "",
    "Conventions (docs/conventions.md):",
    "",
    "- MACs: multiply-accumulates of the dense ops (Conv, Gemm, MatMul), the convention of the published",
    "  tables (torchvision's \"GFLOPS\" are GMACs).",
    "- Params: elements of the weight tensors in the graph. BatchNormalization kept as a node holds its",
    "  running mean and variance, so a count here is the published one (BN scale and shift only) plus 2 per",
    "  BN channel.",
    "- Peak activations: the largest total of live tensors over a topological schedule, and the node",
    "  running at that moment.",
    "- Compute layers: Conv, Gemm and MatMul nodes.",
    "- Arena: a static activation arena planned over the same schedule and verified (docs/arena.md); it",
    "  equals the peak when no byte is lost to fragmentation.",
    "- Weights at int8: one byte per parameter, biases included (docs/sizes.md).",
    "- Receptive field: the largest over the nodes, in input pixels (height x width), global pools left out",
    "  (docs/receptive-field.md). After a squeeze-and-excitation block every position sees the whole image",
    "  through the block's global pool, so SE models show their theoretical field, far wider than the input.",
    "",
]


def render(rows: Iterable[Row], columns: Iterable[Column] = COLUMNS) -> str:
    """docs/zoo.md's Markdown text: the introduction and one table line per row."""
    columns = list(columns)
    lines = [*INTRODUCTION,
             "| " + " | ".join(c.header for c in columns) + " |",
             "|" + "|".join(c.align for c in columns) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(c.cell(r) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def build_rows(names: Iterable[str] | None = None) -> list[Row]:
    """Build and report each sample of ``names`` (every sample by default), in that order."""
    rows = []
    for name in names or SAMPLES:
        model = SAMPLES[name]()
        rows.append(row(name, onnxcost.analyze_model(model, f"sample:{name}")))
        del model
    return rows


def main(argv: list[str] | None = None) -> int:
    """Write docs/zoo.md's text to the one path in ``argv``; exit status 2 with a usage line otherwise."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write(f"usage: {COMMAND}\n")
        return 2
    text = render(build_rows())
    write_atomic(argv[0], text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
