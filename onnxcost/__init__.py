"""onnxcost: what every node of an ONNX model costs, and rewrites that make convolutions cheaper."""

from .analysis import analyze, analyze_model
from .errors import OnnxcostError
from .report import Report

__version__ = "0.1.0"

__all__ = ["OnnxcostError", "Report", "__version__", "analyze", "analyze_model"]
