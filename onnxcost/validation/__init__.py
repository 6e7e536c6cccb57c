"""What onnxruntime says about two models: do their outputs agree, and which one runs faster.

Used by ``onnxcost validate`` (``validate``) and by every rewrite (the rewritten model is run against the
original before anything is written). Results are plain data; ``onnxcost.render`` formats them.

- ``sessions``: onnxruntime sessions and runs (onnxruntime is imported only when a session is made);
- ``inputs``: the inputs both models run on (given arrays, a dataset (``onnxcost.datasets``), or seeded random draws);
- ``comparison``: the figures per output, accumulated over batches, and the bounds that fail a comparison;
- ``agreement``: task-level agreement per output (top-1/top-5, mask IoU, decoded sequences);
- ``batching``: samples per run of a dataset (the model's fixed batch, or a bounded number);
- ``timing``: interleaved timed runs;
- ``yardstick``: the reference with its weights rounded (int8, fp16), to read a candidate's figures against;
- ``api``: ``validate`` and its ``ValidationResult``.
"""

from __future__ import annotations

from .agreement import AgreementOptions, choose_task, ctc_decode
from .api import RANDOM_INPUTS_NOTE, VALIDATE_SCHEMA, ValidationResult, Yardstick, validate
from .batching import batch_size_for
from .comparison import (
    BatchedComparison, Bounds, Comparison, OutputComparison, compare_arrays, compare_models, compare_outputs,
)
from .inputs import InputsError, InputSpec, check_same_inputs, input_specs, random_inputs, resolve_feeds
from .sessions import Progress, RuntimeFailure, run, session
from .timing import Timing, time_models

__all__ = [
    "RANDOM_INPUTS_NOTE", "VALIDATE_SCHEMA", "AgreementOptions", "BatchedComparison", "batch_size_for", "choose_task",
    "ctc_decode", "Bounds", "Comparison", "InputSpec", "InputsError", "OutputComparison", "Progress",
    "RuntimeFailure", "Timing", "ValidationResult", "check_same_inputs", "compare_arrays", "compare_models",
    "compare_outputs", "input_specs", "random_inputs", "resolve_feeds", "run", "session",
    "time_models", "validate", "Yardstick",
]
