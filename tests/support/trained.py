"""Trained models from PyPI wheels, for the tests and benchmarks that need real weights.

    path = require("det")               # in a test: the model's file, or a skip (a failure when CI=true)
    path = model_path("rec")            # elsewhere: the file, or FetchFailed
    characters = ctc_characters()       # the recogniser's alphabet, blank first (CTC index 0)

The wheels are fetched with ``pip download --no-deps`` (never installed: nothing of them is imported or
run) into a cache folder (``ONNXCOST_MODEL_CACHE``, default ``~/.cache/onnxcost-models``), checked against
the SHA-256 they had when these helpers were written, and the model files are extracted next to them.

- ``rapidocr-onnxruntime==1.4.4``: PaddleOCR's PP-OCRv4 text detector (det) and recogniser (rec) and the mobile
  v2.0 text direction classifier (cls), exported by Paddle2ONNX (symbolic batch and spatial dims).
- ``nudenet==3.4.2``: an Ultralytics YOLOv8n detector at 320x320 (18 classes: 22 = 4 box values + 18 scores).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import onnx

CACHE_ENV = "ONNXCOST_MODEL_CACHE"
RAPIDOCR = "rapidocr-onnxruntime==1.4.4"
NUDENET = "nudenet==3.4.2"

# SHA-256 of the wheels as PyPI served them (checked after every download: a changed file is not used).
WHEEL_SHA256 = {
    RAPIDOCR: "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
    NUDENET: "5937dbd84e5d8e5de038f08ffea5a1bb50a08475776bf2b4795914ce0eaf0331",
}
WHEEL_FILES = {
    RAPIDOCR: "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
    NUDENET: "nudenet-3.4.2-py3-none-any.whl",
}


@dataclass(frozen=True)
class TrainedModel:
    """One model file inside a wheel, and the input shape (N, C, H, W) we run it at."""

    name: str
    requirement: str
    member: str  # its path inside the wheel
    input_name: str
    shape: tuple[int, int, int, int]


MODELS = {
    "det": TrainedModel("det", RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", "x",
                        (1, 3, 640, 640)),
    "rec": TrainedModel("rec", RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx", "x",
                        (1, 3, 48, 320)),
    "cls": TrainedModel("cls", RAPIDOCR, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx", "x",
                        (1, 3, 48, 192)),
    "yolov8n": TrainedModel("yolov8n", NUDENET, "nudenet/320n.onnx", "images", (1, 3, 320, 320)),
}


class FetchFailed(Exception):
    """A wheel could not be downloaded, verified or unpacked (the message says why)."""


def cache_dir() -> Path:
    """The cache folder: ``$ONNXCOST_MODEL_CACHE`` or ``~/.cache/onnxcost-models`` (created)."""
    folder = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "onnxcost-models").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wheel_path(requirement: str) -> Path:
    """The verified wheel of ``requirement`` in the cache, downloaded with ``pip download --no-deps`` when absent."""
    target = cache_dir() / "wheels" / WHEEL_FILES[requirement]
    if not (target.is_file() and _sha256(target) == WHEEL_SHA256[requirement]):
        target.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--quiet", "-d", str(target.parent), requirement]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FetchFailed(f"pip download {requirement}: {exc}") from exc
        if done.returncode != 0 or not target.is_file():
            last = (done.stderr.strip().splitlines() or ["no wheel written"])[-1]
            raise FetchFailed(f"pip download {requirement} failed: {last}")
        digest = _sha256(target)
        if digest != WHEEL_SHA256[requirement]:
            target.unlink()
            raise FetchFailed(f"{target.name}: SHA-256 {digest}, expected {WHEEL_SHA256[requirement]}")
    return target


def model_path(name: str) -> Path:
    """The model file of ``MODELS[name]``, extracted from its wheel into the cache (once)."""
    spec = MODELS[name]
    target = cache_dir() / spec.requirement.replace("==", "-") / Path(spec.member).name
    if target.is_file():
        return target
    wheel = wheel_path(spec.requirement)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(spec.member) as source, open(temp, "wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
        os.replace(temp, target)  # atomic: a half-written model is never seen by another run
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        temp.unlink(missing_ok=True)
        raise FetchFailed(f"cannot extract {spec.member} from {wheel.name}: {exc}") from exc
    return target


def require(name: str) -> Path:
    """``model_path(name)`` for a test: when the fetch fails, the test fails under CI=true, else it is skipped."""
    import pytest

    try:
        return model_path(name)
    except FetchFailed as exc:
        message = f"trained model {name!r} unavailable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must be able to fetch it", pytrace=False)
        pytest.skip(message)


def load(name: str) -> onnx.ModelProto:
    """The model ``name`` loaded (weights inside the file)."""
    return onnx.load(str(model_path(name)))


def ctc_characters(model: onnx.ModelProto | None = None) -> list[str]:
    """The recogniser's output classes in order: "blank" (index 0), the 6,623 characters that the model's
    ``character`` metadata lists (rapidocr reads the same; ppocr_keys_v1.txt is not shipped separately), and
    " " last, as rapidocr's CTCLabelDecode builds it: 6,625 classes, the width of the model's output."""
    model = model if model is not None else load("rec")
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    if "character" not in metadata:
        raise FetchFailed("the recogniser has no 'character' metadata")
    return ["blank", *metadata["character"].splitlines(), " "]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
