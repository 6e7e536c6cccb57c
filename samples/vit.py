"""ViT-B/16 (Dosovitskiy et al. 2020, arXiv:2010.11929) as in torchvision, 224x224: 16x16 patch
embedding by a strided conv, a class token, learned position embeddings, 12 pre-norm encoder
layers (width 768, 12 heads, MLP 3072, exact GELU), final LayerNorm, linear head on the class token."""

from __future__ import annotations

import numpy as np
import onnx

from .blocks import GraphBuilder
from .units import encoder_block


def vision_transformer(name: str, patch: int, layers: int, width: int, heads: int, mlp_dim: int,
                       resolution: int = 224, seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """A vision transformer, batch 1: ``patch``x``patch`` patches embedded to ``width`` by a strided
    conv, a class token, position embeddings, ``layers`` encoder layers of ``heads`` heads and an
    MLP of ``mlp_dim``, a final LayerNorm and a linear head on the class token."""
    g = GraphBuilder(name, seed=seed)
    x = g.input("input", [1, 3, resolution, resolution])
    side = resolution // patch
    tokens = side * side + 1
    x = g.conv(x, 3, width, patch, "conv_proj", stride=patch, pad=0)
    x = g.transpose(g.reshape(x, [1, width, side * side], "patches"), [0, 2, 1], "patches_first")
    token = g.constant("class_token", (g.rng.standard_normal((1, 1, width)) * 0.02).astype(np.float32))
    token = g.expand(token, [1, 1, width], "class_token_expand")
    x = g.concat([token, x], "cat_class_token", axis=1)
    position = g.constant("encoder.pos_embedding", (g.rng.standard_normal((1, tokens, width)) * 0.02).astype(np.float32))
    x = g.add(x, position, "encoder.add_pos_embedding")
    for index in range(layers):
        x = encoder_block(g, x, heads, mlp_dim, f"encoder.layers.encoder_layer_{index}")
    x = g.layer_norm(x, "encoder.ln")
    x = g.gather(x, 0, 1, "class_token_out")
    x = g.linear(x, width, classes, "heads.head")
    g.output(x)
    return g.build()


def vit_b_16(seed: int = 0) -> onnx.ModelProto:
    """ViT-B/16: 16x16 patches, 12 layers, width 768, 12 heads, MLP 3072, 224x224."""
    return vision_transformer("vit_b_16", patch=16, layers=12, width=768, heads=12, mlp_dim=3072, seed=seed)
