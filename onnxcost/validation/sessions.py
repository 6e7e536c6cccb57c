"""onnxruntime sessions and runs, with onnxruntime's errors turned into one-line ``RuntimeFailure``s.

onnxruntime is imported when the first session is made, not with this module: a report never needs it. Its
own logging is silenced below fatal (its errors reach the user as the exceptions onnxcost turns into one line,
never as coloured log lines before it) and its telemetry is switched off, for every session onnxcost makes.
"""

from __future__ import annotations

import ctypes
import gc
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import EncodeError

from ..errors import OnnxcostError, first_line
from ..files import save_with_external_data

Progress = Callable[[str, int, int], None]
"""A progress callback: ``progress(what, done, total)``, called before each step and once when all are done."""


# onnxruntime's severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal.
LOG_SEVERITY = 4

# The onnxruntime that finds a model's external data in a folder it is told when the model is given as bytes
# (the session option "session.model_external_initializers_file_folder_path").
MAPS_EXTERNAL_DATA_FROM = (1, 18)


class RuntimeFailure(OnnxcostError):
    """onnxruntime cannot load or run a model."""


def _quiet_onnxruntime():
    """onnxruntime, imported with its default logger at LOG_SEVERITY and its telemetry off."""
    import onnxruntime as ort

    ort.set_default_logger_severity(LOG_SEVERITY)
    if hasattr(ort, "disable_telemetry_events"):  # older builds lack it
        ort.disable_telemetry_events()
    return ort


def session(model: onnx.ModelProto, what: str = "the model", threads: int | None = None, spinning: bool = True,
            weights_folder: str | os.PathLike | None = None):
    """An onnxruntime CPU session for ``model``; RuntimeFailure (one line) if onnxruntime refuses it.

    ``what`` names the model in that message. ``threads`` sets the intra-op thread count (None: onnxruntime's
    default). ``spinning=False`` stops idle worker threads from spinning: sessions timed in turn then do not
    steal each other's cores (each session has its own thread pool). ``weights_folder``: the folder the
    model's external-data locations are relative to (``weights_in_file.load_leaving_weights``' models: the model file's
    folder); onnxruntime maps those weights from their files instead of holding a copy (one older than
    MAPS_EXTERNAL_DATA_FROM gets a copy of the model with them read in).
    """
    ort = _quiet_onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = LOG_SEVERITY
    if threads is not None:
        options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if weights_folder is not None and _version(ort.__version__) >= MAPS_EXTERNAL_DATA_FROM:
        options.add_session_config_entry("session.model_external_initializers_file_folder_path",
                                         os.fspath(weights_folder))
    elif weights_folder is not None:  # an older onnxruntime: the weights read into a copy, as a model in memory
        from ..weights_in_file import read_weights_back

        copied = onnx.ModelProto()
        copied.CopyFrom(model)
        read_weights_back(copied, weights_folder)
        model = copied
    try:
        data = model.SerializeToString()
    except (EncodeError, ValueError):  # over protobuf's 2 GiB limit
        data = None
    try:
        if data is not None:
            return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        with tempfile.TemporaryDirectory(prefix="onnxcost-") as folder:
            path = save_with_external_data(model, Path(folder) / "model.onnx")
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's errors are pybind types without a common public base
        raise RuntimeFailure(f"onnxruntime cannot load {what}: {first_line(exc)}") from exc


def _version(text: str) -> tuple[int, ...]:
    """'1.18.0' -> (1, 18); a part that is not a number ends it ('1.19.0.dev' -> (1, 19))."""
    parts = []
    for part in text.split(".")[:2]:
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def release_freed_memory() -> None:
    """Collect garbage (graphsurgeon's graphs are webs of reference cycles) and hand the C heap's free pages back to
    the system: glibc keeps them otherwise, so freed arrays and a closed session's buffers would still count in the
    process's resident memory when the next large model is loaded. Where there is no glibc, only the collection."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl; Windows has no CDLL(None))
        pass


def run(sess, feeds: Mapping[str, np.ndarray], what: str = "the model") -> dict[str, np.ndarray]:
    """Every output of one run of ``sess`` on ``feeds``, by output name; RuntimeFailure (one line) if it fails."""
    names = [o.name for o in sess.get_outputs()]
    try:
        values = sess.run(names, dict(feeds))
    except Exception as exc:  # see session()
        raise RuntimeFailure(f"onnxruntime cannot run {what}: {first_line(exc)}") from exc
    return dict(zip(names, values))
