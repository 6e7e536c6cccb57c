"""Sample models built in memory (no downloads): ``onnxcost report --sample NAME``."""

from __future__ import annotations

from collections.abc import Callable

import onnx

from .vgg import vgg16

SAMPLES: dict[str, Callable[[], onnx.ModelProto]] = {
    "vgg16": vgg16,
}


def build(name: str) -> onnx.ModelProto:
    """Build the sample ``name``; raises KeyError with the known names if there is none."""
    try:
        builder = SAMPLES[name]
    except KeyError:
        raise KeyError(f"no sample named '{name}'; known: {', '.join(sorted(SAMPLES))}") from None
    return builder()
