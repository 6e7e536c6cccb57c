"""onnxcost.datasets: samples from an .npz, a folder of .npy files, a folder of images or arrays, read in batches."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from onnx import helper

from onnxcost.datasets import ArrayDataset, DatasetError, Preprocess, open_dataset
from onnxcost.validation import input_specs
from support.builders import model

# A model with two inputs: x [batch, 3, 4] float32 and ids [batch] int64.
TWO = model([helper.make_node("Relu", ["x"], ["y"])], {"x": ["batch", 3, 4]}, ["y"])
TWO.graph.input.append(helper.make_tensor_value_info("ids", 7, ["batch"]))  # 7: INT64
IMAGE = model([helper.make_node("Relu", ["img"], ["y"])], {"img": [1, 3, 2, 4]}, ["y"])  # NCHW, 2x4 pixels


def samples(n: int) -> dict[str, np.ndarray]:
    return {"x": np.arange(n * 12, dtype=np.float32).reshape(n, 3, 4), "ids": np.arange(n, dtype=np.int64)}


def collect(dataset, batch_size: int) -> list[dict[str, np.ndarray]]:
    return list(dataset.batches(batch_size))


def test_arrays_in_memory_come_in_batches_in_order():
    data = open_dataset(samples(5), TWO)
    assert data.names == ("x", "ids") and data.count == 5
    batches = collect(data, 2)
    assert [b["ids"].tolist() for b in batches] == [[0, 1], [2, 3], [4]]  # 5 = 2 + 2 + 1
    assert batches[2]["x"].shape == (1, 3, 4) and batches[2]["x"][0, 0, 0] == 48  # sample 4 starts at 4·12


@pytest.mark.parametrize("compressed", [False, True])
def test_an_npz_is_streamed_batch_by_batch(tmp_path, compressed):
    path = tmp_path / "data.npz"
    arrays = samples(7)
    arrays["x"] = arrays["x"].astype(np.float64)  # the same kind: cast to the model's float32
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    data = open_dataset(path, TWO)
    assert data.count == 7
    batches = collect(data, 3)
    assert [len(b["ids"]) for b in batches] == [3, 3, 1]
    assert batches[0]["x"].dtype == np.float32
    np.testing.assert_array_equal(np.concatenate([b["x"] for b in batches]), samples(7)["x"])


def test_a_folder_of_npy_files_one_per_input(tmp_path):
    for name, array in samples(4).items():
        np.save(tmp_path / f"{name}.npy", array)
    data = open_dataset(tmp_path, input_specs(TWO))
    batches = collect(data, 4)
    assert len(batches) == 1 and batches[0]["ids"].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(batches[0]["x"], samples(4)["x"])


def test_batches_of_a_memory_mapped_file_keep_memory_bounded(tmp_path):
    # 256 samples of 3x4x1024 float32 = 48 KiB each, 12 MiB in all; a batch of 2 is 96 KiB.
    big = np.ones((256, 3, 4 * 1024), np.float32)
    wide = model([helper.make_node("Relu", ["x"], ["y"])], {"x": ["batch", 3, 4096]}, ["y"])
    np.save(tmp_path / "x.npy", big)
    del big
    data = open_dataset(tmp_path, wide)
    tracemalloc.start()
    try:
        seen = 0
        for batch in data.batches(2):
            seen += batch["x"].shape[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen == 256
    assert peak < 1 << 20  # under 1 MiB, against 12 MiB for the whole array


def test_an_npz_batch_reads_only_its_rows(tmp_path):
    path = tmp_path / "big.npz"
    np.savez_compressed(path, x=np.zeros((256, 3, 4096), np.float32))  # 12 MiB of samples
    wide = model([helper.make_node("Relu", ["x"], ["y"])], {"x": ["batch", 3, 4096]}, ["y"])
    data = open_dataset(path, wide)
    tracemalloc.start()
    try:
        assert sum(b["x"].shape[0] for b in data.batches(2)) == 256
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # a batch is 2·3·4096·4 B = 96 KiB


def draw_image(path, colour):
    from PIL import Image

    Image.new("RGB", (8, 4), colour).save(path)  # 8 wide, 4 high


def test_a_folder_of_images_rendered_with_pillow(tmp_path):
    draw_image(tmp_path / "a.png", (255, 0, 0))
    draw_image(tmp_path / "b.png", (0, 0, 255))
    spec = Preprocess(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), order="BGR")  # size from the model: 2x4
    data = open_dataset(tmp_path, IMAGE, preprocess=spec)
    assert data.names == ("img",) and data.count == 2
    first, second = collect(data, 1)
    assert first["img"].shape == (1, 3, 2, 4) and first["img"].dtype == np.float32
    # red (255, 0, 0) in BGR order: channels (0, 0, 255) -> (x/255 - 0.5) / 0.5 = -1, -1, 1
    np.testing.assert_allclose(first["img"][0, :, 0, 0], [-1, -1, 1])
    np.testing.assert_allclose(second["img"][0, :, 1, 3], [1, -1, -1])  # blue, in BGR first


def test_images_in_nhwc_with_an_explicit_size(tmp_path):
    draw_image(tmp_path / "a.jpg", (255, 255, 255))
    nhwc = model([helper.make_node("Relu", ["img"], ["y"])], {"img": ["n", "h", "w", 3]}, ["y"])
    data = open_dataset(tmp_path, nhwc, preprocess=Preprocess(size=(6, 10), layout="NHWC", scale=1.0))
    (batch,) = collect(data, 4)
    assert batch["img"].shape == (1, 6, 10, 3)
    np.testing.assert_allclose(batch["img"], 255.0)  # white, scale 1, mean 0, std 1
    with pytest.raises(DatasetError, match="no fixed height and width: give the size to preprocess"):
        open_dataset(tmp_path, nhwc, preprocess=Preprocess(layout="NHWC"))


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.ones((2, 3, 4), np.float32)}, "no array for input(s) ids"),
    ({**samples(2), "w": np.ones(2)}, "array(s) w match no input of the model"),
    ({"x": np.ones((2, 4, 4), np.float32), "ids": np.arange(2)}, "'x' has shape 2x4x4, the model takes batchx3x4"),
    ({"x": np.ones((3, 4), np.float32), "ids": np.arange(3)}, "'x' has rank 2 (3x4), the model takes rank 3"),
    ({"x": np.ones((2, 3, 4), np.float32), "ids": np.array([1.5, 2.0])}, "'ids' is float64, the model takes int64"),
    ({"x": np.ones((2, 3, 4), np.float32), "ids": np.arange(3)}, "different numbers of samples ('x' 2, 'ids' 3)"),
])
def test_arrays_that_do_not_fit_the_model_are_one_error(tmp_path, arrays, message):
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        open_dataset(arrays, TWO)
    assert info.value.parameter == "feeds"
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_dataset(path, TWO)


def test_bad_sources_are_one_error(tmp_path):
    with pytest.raises(DatasetError, match="no such file or folder"):
        open_dataset(tmp_path / "none.npz", TWO)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable .npz file"):
        open_dataset(tmp_path / "junk.npz", TWO)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no .npy files and no images"):
        open_dataset(empty, TWO)
    (empty / "a.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="a.png: not a readable image"):
        list(open_dataset(empty, IMAGE).batches(1))
    with pytest.raises(DatasetError, match="a folder of images feeds a model with one input, this one has 2"):
        open_dataset(empty, TWO)
    with pytest.raises(DatasetError, match="channel order must be RGB or BGR"):
        Preprocess(order="RBG")
    with pytest.raises(DatasetError, match="batch_size must be at least 1"):
        list(ArrayDataset(samples(2)).batches(0))
