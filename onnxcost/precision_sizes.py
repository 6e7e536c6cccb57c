"""Parameter bytes at other precisions (fp32, fp16/bf16, int8, 6-bit, 4-bit), next to the model's own dtype mix,
and the ratio of parameters to a baseline model ("SqueezeNet: 50x fewer parameters than AlexNet").

Convention: every parameter (biases included) at ``bits`` bits, tightly packed: ceil(bits · params / 8) bytes.
No scales, zero points, codebooks, sparsity indices or padding are counted, and nothing is pruned: Deep
Compression's figures (SqueezeNet 1.0 at 0.66 MB with 8 bits, 0.47 MB with 6) also prune a third of the weights
away and so are not comparable with these. Biases are few (SqueezeNet 1.0: 3,976 of its 1,248,424 parameters, 0.3%),
so keeping them at 32 bits, as integer runtimes do, changes these sizes by well under 1%.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .errors import OnnxcostError
from .report import Report

SCHEMA = "onnxcost.precision_sizes/1"
DEFAULT_WEIGHT_BITS = (32, 16, 8, 6, 4)
LABELS = {32: "fp32", 16: "fp16/bf16", 8: "int8", 4: "int4"}


class PrecisionSizesError(OnnxcostError):
    """A precision that is not a whole number of bits from 1 to 64, or a baseline that cannot be read."""


@dataclass
class SizeAtPrecision:
    """The parameters stored at ``bits`` bits each, in bytes; ``baseline_ratio``: the baseline's own parameter
    bytes (as stored) over these (None without a baseline)."""

    bits: int
    label: str
    bytes: int
    formula: str
    baseline_ratio: float | None = None


@dataclass
class Baseline:
    """The model compared with: its name, parameters and bytes as stored; ``ratio`` = its parameters / ours."""

    source: str
    params: int
    param_bytes: int
    ratio: float | None  # None when the model has no parameters

    def phrase(self, params: int) -> str:
        """'50x fewer parameters than alexnet' (rounded to 2 significant digits, as papers say it)."""
        if self.ratio is None:
            return f"no parameters against {self.params:,} in {self.source}"
        if self.ratio >= 1:
            return f"{self.ratio:.3g}x fewer parameters than {self.source} ({params:,} against {self.params:,})"
        return f"{1 / self.ratio:.3g}x more parameters than {self.source} ({params:,} against {self.params:,})"


@dataclass
class PrecisionSizes:
    """The model's parameters (elements), their bytes as stored by storage type, the sizes at each precision
    asked for, and the baseline (None when none was given)."""

    source: str
    params: int
    param_bytes: int
    stored: dict[str, int]  # bytes by storage: float, int8, int4 (narrower, packed), int32
    sizes: list[SizeAtPrecision]
    baseline: Baseline | None = None

    def to_dict(self) -> dict:
        """The machine form; key order is part of the format."""
        return {
            "schema": SCHEMA,
            "source": self.source,
            "params": self.params,
            "param_bytes": self.param_bytes,
            "stored": dict(self.stored),
            "convention": "ceil(bits × params / 8): every parameter, biases included, packed; nothing pruned",
            "sizes": [asdict(size) for size in self.sizes],
            "baseline": asdict(self.baseline) if self.baseline is not None else None,
        }


def precision_sizes(report: Report, weight_bits: Sequence[int] = DEFAULT_WEIGHT_BITS,
                    baseline: Report | str | None = None, *, max_file_bytes: int | None = None) -> PrecisionSizes:
    """``report``'s parameters at each of ``weight_bits`` bits, and against ``baseline``: a Report, the name of a
    sample (onnxcost.samples: "alexnet" where it exists), or a model file or saved report (.json)."""
    bits_list = parse_weight_bits(weight_bits)
    params = report.totals.params
    base = None
    if baseline is not None:
        name, other = _baseline_report(baseline, max_file_bytes)
        base = Baseline(name, other.totals.params, other.totals.param_bytes,
                        other.totals.params / params if params else None)
    sizes = []
    for bits in bits_list:
        size = -(-bits * params // 8)
        ratio = base.param_bytes / size if base is not None and size else None
        sizes.append(SizeAtPrecision(bits, LABELS.get(bits, f"{bits}-bit"), size,
                                     f"ceil({bits} × {params:,} / 8)", ratio))
    totals = report.totals
    stored = {"float": totals.param_bytes_float, "int8": totals.param_bytes_int8, "int4": totals.param_bytes_int4,
              "int32": totals.param_bytes_int32}
    return PrecisionSizes(report.model.source, params, totals.param_bytes, stored, sizes, base)


def parse_weight_bits(value: Sequence[int] | str) -> list[int]:
    """[32, 16, 8] or "32,16,8" -> [32, 16, 8] (duplicates dropped, order kept); each from 1 to 64."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    bits_list: list[int] = []
    for part in parts:
        text = str(part).strip()
        if isinstance(part, bool) or not text.isdigit() or not 1 <= int(text) <= 64:
            raise PrecisionSizesError(f"weight_bits: '{text}' is not a whole number of bits from 1 to 64 "
                                      "(e.g. 32,16,8,6,4)", parameter="weight_bits")
        if int(text) not in bits_list:
            bits_list.append(int(text))
    if not bits_list:
        raise PrecisionSizesError("weight_bits: no precision given (e.g. 32,16,8,6,4)", parameter="weight_bits")
    return bits_list


def _baseline_report(baseline: Report | str, max_file_bytes: int | None) -> tuple[str, Report]:
    """(its name, its report) for a Report, a sample's name, or a model file or saved report."""
    from . import samples
    from .loading import DEFAULT_MAX_FILE_BYTES
    from .saved import load_report

    if isinstance(baseline, Report):
        return baseline.model.source, baseline
    name = str(baseline)
    if not os.path.lexists(name):  # a file of that name wins over a sample
        if name not in samples.SAMPLES:
            raise PrecisionSizesError(f"baseline '{name}' is neither a file nor a sample (samples: "
                                      f"{', '.join(sorted(samples.SAMPLES))})", parameter="baseline")
        from .analysis import analyze_model

        return name, analyze_model(samples.build(name), source=f"sample:{name}")
    return name, load_report(name, max_file_bytes=max_file_bytes or DEFAULT_MAX_FILE_BYTES)
