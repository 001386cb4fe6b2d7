"""The Vision Transformer (ViT) in NumPy: images cut into patches, and a forward pass over trained weights.

An image becomes a sequence: cut it into P × P patches, flatten each patch, project it to D features, put a learned
class token in front, add a learned position embedding to every position, run a stack of pre-norm encoder layers (GELU
in the feed-forward network), and classify from the class token's final vector. The PyTorch model of the same name
(``transformer_tutorial.torch.vision.VisionTransformer``) trains; its ``numpy_params()`` gives the weights this module
reads.

Shapes use B (batch), C (channels), height and width (in pixels: H is the heads), P (patch size), M (patches, (height /
P)·(width / P)), T (positions, M + 1 with the class token), D (model width) and K (classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import (
    check_image_patches,
    check_ndim,
    check_patch_sequence,
    format_shape,
)
from transformer_tutorial.numpy.layers import (
    EncoderLayerParams,
    LayerNormParams,
    encoder_layer,
    layer_norm,
)


# --8<-- [start:patchify]
def patchify(images: np.ndarray, patch_size: int) -> np.ndarray:
    """Cut images into non-overlapping square patches and
    flatten each: (B, C, height, width) -> (B, M, C·P·P).

    Patches are numbered row by row, left to right, as a reader scans a page. Each patch is flattened channel first,
    then row, then column (the order of a ``Conv2d`` weight's last three axes), so that projecting the patches with a
    matrix is the same computation as a convolution with stride P.

    Examples:
        >>> image = np.arange(16.0).reshape(1, 1, 4, 4)  # one 4 × 4 image, pixels numbered row by row
        >>> patchify(image, 2)[0]  # four patches of 2 × 2 pixels: top left, top right, bottom left, bottom right
        array([[ 0.,  1.,  4.,  5.],
               [ 2.,  3.,  6.,  7.],
               [ 8.,  9., 12., 13.],
               [10., 11., 14., 15.]])
    """
    check_ndim("images", images, 4, "(B, C, height, width)")
    check_image_patches("images", images, patch_size)
    batch, channels, height, width = images.shape
    rows, cols = height // patch_size, width // patch_size
    # (B, C, rows, P, cols, P)
    grid = images.reshape(batch, channels, rows, patch_size, cols, patch_size)
    # (B, rows, cols, C, P, P): patch position first, then its pixels
    grid = grid.transpose(0, 2, 4, 1, 3, 5)
    return grid.reshape(batch, rows * cols, channels * patch_size * patch_size)


# --8<-- [end:patchify]


# --8<-- [start:unpatchify]
def unpatchify(
    patches: np.ndarray, patch_size: int, height: int, width: int
) -> np.ndarray:
    """Put flattened patches back together into images, the inverse
    of ``patchify``: (B, M, C·P·P) -> (B, C, height, width).

    Examples:
        >>> image = np.arange(16.0).reshape(1, 1, 4, 4)
        >>> bool((unpatchify(patchify(image, 2), 2, 4, 4) == image).all())
        True
    """
    check_ndim("patches", patches, 3, "(B, M, C·P·P)")
    channels = check_patch_sequence("patches", patches, patch_size, height, width)
    batch = patches.shape[0]
    rows, cols = height // patch_size, width // patch_size
    grid = patches.reshape(batch, rows, cols, channels, patch_size, patch_size)
    return grid.transpose(0, 3, 1, 4, 2, 5).reshape(batch, channels, height, width)


# --8<-- [end:unpatchify]


@dataclass
class PatchEmbeddingParams:
    """The linear projection of a flattened patch,
    in the orientation ``patch @ weight + bias``.

    ``weight`` is (C·P·P, D) and ``bias`` (D,); ``patch_size`` is P.
    """

    weight: np.ndarray
    bias: np.ndarray
    patch_size: int


@dataclass
class VisionTransformerParams:
    """Every weight of a Vision Transformer.

    ``class_token`` is (D,); ``positions`` is (M + 1, D), row 0 for the class token; ``layers`` are pre-norm encoder
    layers with GELU; ``norm`` is the LayerNorm after the last layer; ``head_weight`` (D, K) and ``head_bias`` (K,) map
    the class token's final vector to one score per class.
    """

    patch_embedding: PatchEmbeddingParams
    class_token: np.ndarray
    positions: np.ndarray
    layers: list[EncoderLayerParams]
    norm: LayerNormParams
    head_weight: np.ndarray
    head_bias: np.ndarray


# --8<-- [start:patch_embedding]
def patch_embedding(images: np.ndarray, params: PatchEmbeddingParams) -> np.ndarray:
    """Flatten the patches of each image and project each
    one to D features: (B, C, height, width) -> (B, M, D)."""
    return patchify(images, params.patch_size) @ params.weight + params.bias


# --8<-- [end:patch_embedding]


# --8<-- [start:vision_transformer]
def embed_image(images: np.ndarray, params: VisionTransformerParams) -> np.ndarray:
    """The sequence the first layer reads: the class
    token, then the projected patches, plus positions.

    (B, C, height, width) -> (B, M + 1, D).
    """
    patches = patch_embedding(images, params.patch_embedding)  # (B, M, D)
    if patches.shape[1] + 1 != len(params.positions):
        raise ValueError(
            f"images of shape {format_shape(images.shape)} give {patches.shape[1]} "
            "patches of size "
            f"{params.patch_embedding.patch_size}, but the position table has rows "
            f"for {len(params.positions) - 1}"
        )
    # (B, 1, D)
    class_tokens = np.broadcast_to(
        params.class_token, (len(images), 1, patches.shape[2])
    )
    # (B, M + 1, D)
    return np.concatenate([class_tokens, patches], axis=1) + params.positions


def vision_transformer(
    images: np.ndarray, params: VisionTransformerParams
) -> np.ndarray:
    """Classify images: (B, C, height, width)
    -> (B, K) scores (logits), one per class.

    Every position attends to every other (no mask); only the class token's final vector reaches the classifier, so the
    class token must gather from the patches, through attention, what the classifier needs.
    """
    x = embed_image(images, params)  # (B, M + 1, D)
    for layer in params.layers:
        x = encoder_layer(x, layer, norm_first=True)
    # pre-norm leaves the residual sum unnormalised: normalise it once at the end
    x = layer_norm(x, params.norm)
    # the class token's vector -> (B, K)
    return x[:, 0] @ params.head_weight + params.head_bias


# --8<-- [end:vision_transformer]
