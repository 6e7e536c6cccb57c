"""What onnxruntime says about two models: do their outputs agree, and which one runs faster.

Used by ``onnxcost validate`` (``validate``) and by every rewrite (the rewritten model is run against the
original before anything is written). Results are plain data; ``onnxcost.render`` formats them.

- ``sessions``: onnxruntime sessions and runs (onnxruntime is imported only when a session is made);
- ``inputs``: the inputs both models run on (given, an .npz, or seeded random draws);
- ``comparison``: the figures per output and the bounds that fail a comparison;
- ``timing``: interleaved timed runs;
- ``api``: ``validate`` and its ``ValidationResult``.
"""

from __future__ import annotations

from .api import VALIDATE_SCHEMA, ValidationResult, validate
from .comparison import Bounds, Comparison, OutputComparison, compare_arrays, compare_models, compare_outputs
from .inputs import InputsError, InputSpec, check_same_inputs, input_specs, load_inputs, random_inputs, resolve_feeds
from .sessions import Progress, RuntimeFailure, run, session
from .timing import Timing, time_models

__all__ = [
    "VALIDATE_SCHEMA", "Bounds", "Comparison", "InputSpec", "InputsError", "OutputComparison", "Progress",
    "RuntimeFailure", "Timing", "ValidationResult", "check_same_inputs", "compare_arrays", "compare_models",
    "compare_outputs", "input_specs", "load_inputs", "random_inputs", "resolve_feeds", "run", "session",
    "time_models", "validate",
]
