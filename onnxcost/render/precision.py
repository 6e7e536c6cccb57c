"""The quantized breakdown of a report's totals, for the renderers: rows only where a model is not all float,
so a float model's tables are as they always were."""

from __future__ import annotations

from ..report import Totals


def mac_rows(t: Totals) -> list[tuple[str, int]]:
    """('  int8', MACs), ... under the MACs row, when some MACs are not float."""
    if not (t.macs_int8 or t.macs_weight_only):
        return []
    return [("  int8 MACs", t.macs_int8), ("  weight-only MACs", t.macs_weight_only), ("  float MACs", t.macs_float)]


def byte_rows(t: Totals) -> list[tuple[str, int]]:
    """Parameter bytes by storage type under the parameter memory row, when some weights are not float."""
    stored = [("  int8 weights", t.param_bytes_int8), ("  int4 weights", t.param_bytes_int4),
              ("  int32 weights", t.param_bytes_int32)]
    if not any(value for _, value in stored):
        return []
    rows = [(label, value) for label, value in stored if value] + [("  float weights", t.param_bytes_float)]
    if t.quantization_params:
        rows += [("quantization params", t.quantization_params), ("quantization param bytes", t.quantization_param_bytes)]
    return rows
