"""AlexNet (Krizhevsky et al. 2012), in its two common forms:

- ``alexnet``: torchvision's single-stream model (the "one weird trick" variant, arXiv:1404.5997):
  64/192/384/256/256 conv channels, no LRN, 224x224. torchvision's AdaptiveAvgPool2d((6, 6)) is
  the identity at 224 (the features are already 6x6) and is left out, as is Dropout.
- ``alexnet_caffe``: the BVLC Caffe reference (bvlc_alexnet/deploy.prototxt), the original two-GPU
  network with its grouped conv2, conv4 and conv5 (group 2) and LRN after conv1 and conv2,
  227x227. This is the AlexNet of SqueezeNet's comparison ("50x fewer parameters"): Iandola et
  al. compare against the Caffe model that Deep Compression (Han et al. 2015) compressed.
"""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder


def _classifier(g: GraphBuilder, x: str, names: tuple[str, str, str, str, str], classes: int) -> str:
    """The three fully connected layers (4096, 4096, ``classes``) with ReLU between."""
    fc1, relu1, fc2, relu2, fc3 = names
    x = g.relu(g.linear(x, g.shape(x)[1], 4096, fc1), relu1)
    x = g.relu(g.linear(x, 4096, 4096, fc2), relu2)
    return g.linear(x, 4096, classes, fc3)


def alexnet(seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """torchvision's AlexNet, batch 1, 3x224x224 input (module names ``features.N``, ``classifier.N``)."""
    g = GraphBuilder("alexnet", seed=seed)
    x = g.input("input", [1, 3, 224, 224])
    x = g.relu(g.conv(x, 3, 64, 11, "features.0", stride=4, pad=2), "features.1")
    x = g.max_pool(x, "features.2", kernel=3, stride=2)
    x = g.relu(g.conv(x, 64, 192, 5, "features.3", pad=2), "features.4")
    x = g.max_pool(x, "features.5", kernel=3, stride=2)
    x = g.relu(g.conv(x, 192, 384, 3, "features.6"), "features.7")
    x = g.relu(g.conv(x, 384, 256, 3, "features.8"), "features.9")
    x = g.relu(g.conv(x, 256, 256, 3, "features.10"), "features.11")
    x = g.flatten(g.max_pool(x, "features.12", kernel=3, stride=2), "flatten")
    x = _classifier(g, x, ("classifier.1", "classifier.2", "classifier.4", "classifier.5", "classifier.6"), classes)
    g.output(x)
    return g.build()


def alexnet_caffe(seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """The BVLC Caffe AlexNet, batch 1, 3x227x227 input (layer names of its prototxt). Caffe's pools
    round up (ceil mode); at 227 every pooled size is exact, so it changes nothing here."""
    g = GraphBuilder("alexnet_caffe", seed=seed)
    x = g.input("input", [1, 3, 227, 227])
    x = g.relu(g.conv(x, 3, 96, 11, "conv1", stride=4, pad=0), "relu1")
    x = g.max_pool(g.lrn(x, "norm1"), "pool1", kernel=3, stride=2, ceil_mode=True)
    x = g.relu(g.conv(x, 96, 256, 5, "conv2", pad=2, groups=2), "relu2")
    x = g.max_pool(g.lrn(x, "norm2"), "pool2", kernel=3, stride=2, ceil_mode=True)
    x = g.relu(g.conv(x, 256, 384, 3, "conv3"), "relu3")
    x = g.relu(g.conv(x, 384, 384, 3, "conv4", groups=2), "relu4")
    x = g.relu(g.conv(x, 384, 256, 3, "conv5", groups=2), "relu5")
    x = g.flatten(g.max_pool(x, "pool5", kernel=3, stride=2, ceil_mode=True), "flatten")
    x = _classifier(g, x, ("fc6", "relu6", "fc7", "relu7", "fc8"), classes)
    g.output(x)
    return g.build()
