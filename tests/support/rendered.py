"""Inputs for the trained models (support/trained.py), drawn in code with Pillow, and their task metrics.

    pages = [page(seed) for seed in seeds(8, HELD_OUT)]         # 640x640 RGB pages of text, uint8
    feed = {"x": det_input(pages)}                               # what PP-OCR's detector takes
    iou(text_mask(p_a), text_mask(p_b))                          # the text mask (p > 0.3) compared

Every picture is a function of its seed alone. Calibration and held-out data never share a seed:
``seeds(n, CALIBRATION)`` and ``seeds(n, HELD_OUT)`` come from disjoint ranges.

The preprocessing follows rapidocr-onnxruntime 1.4.4's own code (read inside the wheel):
- det (``ch_ppocr_det``, config.yaml): the image in BGR order (rapidocr's LoadImage converts to BGR),
  (x/255 - 0.5)/0.5 per channel (mean = std = 0.5, not ImageNet's), HWC → NCHW; 640x640 is already a multiple
  of 32, so no resize. Its post-processing thresholds the probability map at 0.3.
- rec (``ch_ppocr_rec``): resized to height 48 keeping the aspect ratio, width ceil(48·w/h) at most 320,
  (x/255 - 0.5)/0.5, zero-padded on the right to 320 (zero after normalising, as rapidocr pads);
  CTC greedy decoding: argmax per step, repeats merged, blank (index 0) dropped.
- cls (``ch_ppocr_cls``): the same as rec at 48x192; output [N, 2] = scores of 0° and 180°.
- yolov8n (nudenet 3.4.2): RGB (blobFromImage with swapRB on a BGR image), x/255, NCHW, 320x320.
rapidocr resizes with OpenCV (bilinear); Pillow's bilinear resize is used here instead (no OpenCV needed).

Fonts: Pillow's bundled font (``ImageFont.load_default(size)``, FreeType) draws Latin letters, digits and
punctuation, so the text lines use the dictionary's characters it can draw (no CJK font is assumed on a CI
machine; set ``ONNXCOST_CJK_FONT`` to a .ttf/.otf/.ttc with CJK glyphs to mix in CJK characters).
"""

from __future__ import annotations

import math
import os
import string
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CALIBRATION = 0  # seed ranges: calibration seeds are 0..99_999, held-out seeds 100_000..
HELD_OUT = 100_000
DET_SIZE = 640
REC_SHAPE = (48, 320)  # height, width
CLS_SHAPE = (48, 192)
YOLO_SIZE = 320
DET_THRESHOLD = 0.3  # rapidocr's DBPostProcess "thresh"
LATIN = string.ascii_letters + string.digits + ".,:;-/()%&'!?"


def seeds(count: int, split: int) -> list[int]:
    """``count`` seeds of a split (CALIBRATION or HELD_OUT): disjoint ranges, so no picture is in both."""
    return [split + i for i in range(count)]


def _font(size: int, cjk: bool = False) -> ImageFont.FreeTypeFont:
    path = os.environ.get("ONNXCOST_CJK_FONT") if cjk else None
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


def alphabet(characters: Sequence[str]) -> str:
    """The dictionary's characters the text lines are written with: LATIN ∩ dictionary, plus its CJK characters
    (U+4E00..U+9FFF) when ONNXCOST_CJK_FONT names a font that has them."""
    known = set(characters)
    chosen = [c for c in LATIN if c in known]
    if os.environ.get("ONNXCOST_CJK_FONT"):
        chosen += [c for c in characters if len(c) == 1 and "\u4e00" <= c <= "\u9fff"]
    return "".join(chosen)


def _words(rng: np.random.Generator, letters: str, count: int) -> str:
    return " ".join("".join(rng.choice(list(letters), size=int(rng.integers(2, 9)))) for _ in range(count))


def _background(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """A light background: a random pale colour with a gentle linear gradient and a little noise."""
    base = rng.uniform(200, 250, size=3)
    ramp = np.linspace(0, 1, width)[None, :, None] * rng.uniform(-20, 5, size=3)
    noise = rng.normal(0, 3, size=(height, width, 1))
    pixels = np.clip(base + ramp + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(np.broadcast_to(pixels, (height, width, 3))))


def page(seed: int, size: int = DET_SIZE) -> np.ndarray:
    """A page of text (size x size x 3 RGB uint8): 8 to 16 lines of dark text, font sizes 14 to 44 px, at random
    positions, on a light background. Latin text (the detector is not language-specific)."""
    rng = np.random.default_rng(seed)
    image = _background(rng, size, size)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(8, 17))):
        font = _font(int(rng.integers(14, 45)))
        colour = tuple(int(v) for v in rng.integers(0, 60, size=3))
        x, y = int(rng.integers(0, size * 3 // 4)), int(rng.integers(0, size - 20))
        draw.text((x, y), _words(rng, LATIN, int(rng.integers(1, 6))), fill=colour, font=font)
    return np.asarray(image)


def text_line(seed: int, characters: Sequence[str]) -> tuple[np.ndarray, str]:
    """One line of text (RGB uint8, height 48, width up to 320 after ``rec_input``'s resize) and its string:
    3 to 20 characters of ``alphabet(characters)``, font size 24 to 40, dark on light, cropped with a margin."""
    rng = np.random.default_rng(seed)
    letters = alphabet(characters)
    text = "".join(rng.choice(list(letters), size=int(rng.integers(3, 21))))
    font = _font(int(rng.integers(24, 41)), cjk=bool(os.environ.get("ONNXCOST_CJK_FONT")))
    left, top, right, bottom = font.getbbox(text)
    margin = int(rng.integers(3, 10))
    width, height = right - left + 2 * margin, bottom - top + 2 * margin
    image = _background(rng, height, width)
    colour = tuple(int(v) for v in rng.integers(0, 60, size=3))
    ImageDraw.Draw(image).text((margin - left, margin - top), text, fill=colour, font=font)
    return np.asarray(image), text


def scene(seed: int, size: int = YOLO_SIZE) -> np.ndarray:
    """A simple synthetic scene (size x size x 3 RGB uint8): a two-colour gradient ground and 3 to 8 filled
    ellipses, rectangles and triangles in random colours (some skin tones), some overlapping."""
    rng = np.random.default_rng(seed)
    top, bottom = rng.uniform(0, 255, size=3), rng.uniform(0, 255, size=3)
    t = np.linspace(0, 1, size)[:, None, None]
    ground = (top * (1 - t) + bottom * t).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(np.broadcast_to(ground, (size, size, 3))))
    draw = ImageDraw.Draw(image)
    skin = [(224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172)]
    for _ in range(int(rng.integers(3, 9))):
        if rng.random() < 0.5:
            colour = skin[int(rng.integers(len(skin)))]
        else:
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x0, y0 = (int(v) for v in rng.integers(0, size - 40, size=2))
        x1, y1 = x0 + int(rng.integers(30, size // 2)), y0 + int(rng.integers(30, size // 2))
        kind = int(rng.integers(3))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=colour)
    return np.asarray(image)


def _normalise(pixels: np.ndarray) -> np.ndarray:
    """uint8 HWC RGB → float32 CHW BGR, (x/255 - 0.5)/0.5: PP-OCR's normalisation."""
    bgr = pixels[:, :, ::-1].astype(np.float32)
    return ((bgr / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)


def det_input(pages: Sequence[np.ndarray]) -> np.ndarray:
    """PP-OCR det's input [N, 3, H, W] float32 from RGB pages whose sides are multiples of 32."""
    return np.stack([_normalise(p) for p in pages])


def _line_input(lines: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    batch = np.zeros((len(lines), 3, height, width), dtype=np.float32)
    for i, line in enumerate(lines):
        h, w = line.shape[:2]
        resized_w = min(width, int(math.ceil(height * w / h)))
        resized = np.asarray(Image.fromarray(line).resize((resized_w, height), Image.BILINEAR))
        batch[i, :, :, :resized_w] = _normalise(resized)
    return batch


def rec_input(lines: Sequence[np.ndarray]) -> np.ndarray:
    """PP-OCR rec's input [N, 3, 48, 320]: each line resized to height 48, normalised, zero-padded on the right."""
    return _line_input(lines, REC_SHAPE)


def cls_input(lines: Sequence[np.ndarray]) -> np.ndarray:
    """The direction classifier's input [N, 3, 48, 192], made as ``rec_input``."""
    return _line_input(lines, CLS_SHAPE)


def yolo_input(scenes: Sequence[np.ndarray]) -> np.ndarray:
    """YOLOv8n's input [N, 3, 320, 320]: RGB, x/255, NCHW."""
    return np.stack([s.astype(np.float32).transpose(2, 0, 1) / 255.0 for s in scenes])


def ctc_decode(probabilities: np.ndarray, characters: Sequence[str]) -> list[str]:
    """Greedy CTC decoding of [N, T, C] scores: argmax per step, repeats merged, blank (index 0) dropped."""
    strings = []
    for steps in probabilities.argmax(axis=2):
        keep = np.ones(len(steps), dtype=bool)
        keep[1:] = steps[1:] != steps[:-1]
        strings.append("".join(characters[i] for i in steps[keep] if i != 0))
    return strings


def text_mask(probabilities: np.ndarray, threshold: float = DET_THRESHOLD) -> np.ndarray:
    """The detector's text pixels: probability > ``threshold`` (rapidocr's 0.3)."""
    return probabilities > threshold


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks, pooled over every sample and pixel (1.0 when both empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def rel_l2(reference: np.ndarray, candidate: np.ndarray) -> float:
    """||candidate - reference|| / ||reference||, over the whole array (float64)."""
    reference, candidate = reference.astype(np.float64), candidate.astype(np.float64)
    return float(np.linalg.norm(candidate - reference) / np.linalg.norm(reference))


def yolo_score_map(output: np.ndarray) -> np.ndarray:
    """YOLOv8's [N, 4 + classes, anchors] output → [N, anchors]: each anchor's highest class score."""
    return output[:, 4:, :].max(axis=1)
