"""VGG-16 at 224x224 against the published figures.

Parameters 138,357,544 and the per-layer activation sizes: Simonyan &
Zisserman (arXiv:1409.1556, configuration D) as tabulated in the CS231n
notes ("VGGNet in detail"). MACs 15,470,264,320 = 15,346,630,656 in the 13
convolutions + 123,633,664 in the 3 fully connected layers, no bias adds;
per layer MACs = H·W·Cout·Cin·9 (e.g. conv1_2: 224·224·64·64·9).
"""

import onnxcost

# Elements after each conv and pool, from the per-layer table.
EXPECTED_ELEMENTS = {
    "conv1_1": 224 * 224 * 64, "conv1_2": 224 * 224 * 64, "pool1": 112 * 112 * 64,
    "conv2_1": 112 * 112 * 128, "conv2_2": 112 * 112 * 128, "pool2": 56 * 56 * 128,
    "conv3_1": 56 * 56 * 256, "conv3_2": 56 * 56 * 256, "conv3_3": 56 * 56 * 256, "pool3": 28 * 28 * 256,
    "conv4_1": 28 * 28 * 512, "conv4_2": 28 * 28 * 512, "conv4_3": 28 * 28 * 512, "pool4": 14 * 14 * 512,
    "conv5_1": 14 * 14 * 512, "conv5_2": 14 * 14 * 512, "conv5_3": 14 * 14 * 512, "pool5": 7 * 7 * 512,
    "fc6": 4096, "fc7": 4096, "fc8": 1000,
}


def test_published_totals(vgg16):
    report = onnxcost.analyze(vgg16)
    assert report.totals.params == 138_357_544
    assert report.totals.macs == 15_470_264_320
    assert report.totals.param_bytes == 138_357_544 * 4
    assert report.totals.compute_layers == 16
    assert report.warnings == []


def test_per_layer_sizes_and_macs(vgg16):
    rows = {row.name: row for row in onnxcost.analyze(vgg16).nodes}
    for name, elements in EXPECTED_ELEMENTS.items():
        shape = rows[name].output_shapes[0]
        assert shape[0] == 1 and elements == _product(shape[1:]), name
        assert rows[name].output_bytes == 4 * elements, name
    assert EXPECTED_ELEMENTS["conv1_1"] == 3_211_264 and EXPECTED_ELEMENTS["pool5"] == 25_088
    assert rows["conv1_1"].macs == 224 * 224 * 64 * 3 * 9
    assert rows["conv1_2"].macs == 224 * 224 * 64 * 64 * 9
    assert rows["conv5_3"].macs == 14 * 14 * 512 * 512 * 9
    assert rows["fc6"].macs == 25088 * 4096
    conv_macs = sum(r.macs for r in rows.values() if r.op_type == "Conv")
    fc_macs = sum(r.macs for r in rows.values() if r.op_type == "Gemm")
    assert (conv_macs, fc_macs) == (15_346_630_656, 123_633_664)
    # FLOPs: 2 per MAC plus one bias add per output element of every conv and FC layer.
    bias_adds = sum(elements for name, elements in EXPECTED_ELEMENTS.items() if not name.startswith("pool"))
    assert sum(r.flops for r in rows.values() if r.op_type in ("Conv", "Gemm")) == 2 * 15_470_264_320 + bias_adds


def _product(values):
    total = 1
    for v in values:
        total *= v
    return total
