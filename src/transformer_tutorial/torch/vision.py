"""The Vision Transformer (ViT) in PyTorch: images cut into patches, the model, and a small training loop.

An image becomes a sequence: cut it into P × P patches, flatten each patch, project it to D features, put a learned
class token in front, add a learned position embedding to every position, run a stack of pre-norm encoder layers (GELU
in the feed-forward network), and classify from the class token's final vector. The layers are this package's
``EncoderLayer``; only the way the sequence is made is new.

Shapes use B (batch), C (channels), height and width (in pixels: H is the heads), P (patch size), M (patches, (height /
P)·(width / P)), T (positions, M + 1 with the class token), D (model width) and K (classes).
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from transformer_tutorial.checks import (
    check_image_patches,
    check_ndim,
    check_patch_sequence,
    check_patch_size,
    check_positive_int,
    format_shape,
)
from transformer_tutorial.numpy.vision import (
    PatchEmbeddingParams,
    VisionTransformerParams,
)
from transformer_tutorial.torch.attention import to_numpy
from transformer_tutorial.torch.layers import EncoderLayer, LayerNorm
from transformer_tutorial.torch.modes import device_of, evaluating
from transformer_tutorial.torch.positional import LearnedPositionalEmbedding
from transformer_tutorial.torch.training import TrainingLog


# --8<-- [start:patchify]
def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping square patches and
    flatten each: (B, C, height, width) -> (B, M, C·P·P).

    Patches are numbered row by row, left to right, as a reader scans a page. Each patch is flattened channel first,
    then row, then column (the order of a ``Conv2d`` weight's last three axes), so that projecting the patches with a
    matrix is the same computation as a convolution with stride P.

    Examples:
        >>> image = torch.arange(16.0).reshape(1, 1, 4, 4)  # one 4 × 4 image, pixels numbered row by row
        >>> patchify(image, 2)[0]  # four patches of 2 × 2 pixels: top left, top right, bottom left, bottom right
        tensor([[ 0.,  1.,  4.,  5.],
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
    grid = grid.permute(0, 2, 4, 1, 3, 5)
    return grid.reshape(batch, rows * cols, channels * patch_size * patch_size)


# --8<-- [end:patchify]


# --8<-- [start:unpatchify]
def unpatchify(
    patches: torch.Tensor, patch_size: int, height: int, width: int
) -> torch.Tensor:
    """Put flattened patches back together into images, the inverse
    of ``patchify``: (B, M, C·P·P) -> (B, C, height, width).

    Examples:
        >>> image = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> bool((unpatchify(patchify(image, 2), 2, 4, 4) == image).all())
        True
    """
    check_ndim("patches", patches, 3, "(B, M, C·P·P)")
    channels = check_patch_sequence("patches", patches, patch_size, height, width)
    batch = patches.shape[0]
    rows, cols = height // patch_size, width // patch_size
    grid = patches.reshape(batch, rows, cols, channels, patch_size, patch_size)
    return grid.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, height, width)


# --8<-- [end:unpatchify]


# --8<-- [start:patch_embedding]
class PatchEmbedding(nn.Module):
    """Flatten the patches of each image and project each
    one to D features: (B, C, height, width) -> (B, M, D).

    The same projection is often written as ``nn.Conv2d(C, D, kernel_size=P, stride=P)``: a kernel that covers one patch
    and jumps a whole patch at a time sees each patch exactly once. Its weight (D, C, P, P) is this module's
    ``linear.weight`` (D, C·P·P) with the last axis unflattened.
    """

    def __init__(self, patch_size: int, in_channels: int, d_model: int) -> None:
        super().__init__()
        check_positive_int("patch_size", patch_size)
        check_positive_int("in_channels", in_channels)
        self.patch_size = patch_size
        self.linear = nn.Linear(in_channels * patch_size * patch_size, d_model)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, height, width) -> (B, M, D)."""
        return self.linear(patchify(images, self.patch_size))

    # --8<-- [end:patch_embedding]

    def numpy_params(self) -> PatchEmbeddingParams:
        return PatchEmbeddingParams(
            to_numpy(self.linear.weight.T), to_numpy(self.linear.bias), self.patch_size
        )


class VisionTransformer(nn.Module):
    """A Vision Transformer: patches, a class token, learned
    positions, pre-norm encoder layers, a classifier.

    Args:
        image_size: H and W, or one number for square images; both must be divisible by ``patch_size``.
        patch_size: P, the side of a square patch in pixels.
        num_classes: K, the number of classes.
        d_model: D, the width of every position's vector.
        num_heads: H, attention heads per layer.
        num_layers: The number of encoder layers.
        d_ff: The width of the feed-forward network's hidden layer.
        in_channels: C, 1 for grey images, 3 for colour.
        dropout: Dropout on the embedded sequence and on each sub-layer's output, while training.
        eps: The LayerNorm epsilon (1e-6 in the ViT code).
    """

    def __init__(
        self,
        image_size: int | tuple[int, int],
        patch_size: int,
        num_classes: int,
        d_model: int,
        num_heads: int,
        num_layers: int,
        d_ff: int,
        in_channels: int = 1,
        dropout: float = 0.0,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        height, width = (
            (image_size, image_size)
            if isinstance(image_size, int)
            else tuple(image_size)
        )
        check_patch_size(patch_size, height, width, f"image_size {height} × {width}")
        check_positive_int("num_classes", num_classes)
        check_positive_int("num_layers", num_layers, allow_zero=True)
        self.image_shape = (in_channels, height, width)
        num_patches = (height // patch_size) * (width // patch_size)
        self.patch_embedding = PatchEmbedding(patch_size, in_channels, d_model)
        # zeros at first, as in the ViT code
        self.class_token = nn.Parameter(torch.zeros(d_model))
        self.positions = LearnedPositionalEmbedding(num_patches + 1, d_model)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(
                d_model,
                num_heads,
                d_ff,
                dropout,
                norm_first=True,
                activation="gelu",
                eps=eps,
            )
            for _ in range(num_layers)
        )
        self.norm = LayerNorm(d_model, eps)
        self.head = nn.Linear(d_model, num_classes)

    # --8<-- [start:vision_transformer]
    def embed_image(self, images: torch.Tensor) -> torch.Tensor:
        """The sequence the first layer reads: the class
        token, then the projected patches, plus positions.

        (B, C, height, width) -> (B, M + 1, D).
        """
        self._check_images(images)
        patches = self.patch_embedding(images)  # (B, M, D)
        class_tokens = self.class_token.expand(len(images), 1, -1)  # (B, 1, D)
        x = torch.cat([class_tokens, patches], dim=1)  # (B, M + 1, D)
        return self.dropout(x + self.positions(x.shape[1]))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Classify images: (B, C, height, width)
        -> (B, K) scores (logits), one per class.

        Every position attends to every other (no mask); only the class token's final vector reaches the classifier, so
        the class token must gather from the patches, through attention, what the classifier needs.
        """
        x = self.embed_image(images)  # (B, M + 1, D)
        for layer in self.layers:
            x = layer(x)
        # pre-norm leaves the residual sum unnormalised: normalise it once at the end
        x = self.norm(x)
        return self.head(x[:, 0])  # the class token's vector -> (B, K)

    # --8<-- [end:vision_transformer]

    def _check_images(self, images: torch.Tensor) -> None:
        check_ndim("images", images, 4, "(B, C, height, width)")
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"images must have shape (B, C, height, width) = (B, {', '.join(map(str, self.image_shape))}), "
                f"got {format_shape(images.shape)}"
            )

    def numpy_params(self) -> VisionTransformerParams:
        """Every weight as float64 NumPy arrays, for
        ``transformer_tutorial.numpy.vision.vision_transformer``."""
        return VisionTransformerParams(
            patch_embedding=self.patch_embedding.numpy_params(),
            class_token=to_numpy(self.class_token),
            positions=to_numpy(self.positions.table.weight),
            layers=[layer.numpy_params() for layer in self.layers],
            norm=self.norm.numpy_params(),
            head_weight=to_numpy(self.head.weight.T),
            head_bias=to_numpy(self.head.bias),
        )


# --8<-- [start:train_classifier]
def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    warmup_fraction: float = 0.1,
    seed: int = 0,
) -> TrainingLog:
    """Train an image classifier with Adam and cross-entropy,
    one shuffled pass over the images per epoch.

    The learning rate rises linearly from 0 to ``lr`` over the first ``warmup_fraction`` of the steps, then falls to 0
    along half a cosine wave. A Transformer starts with random attention, and large early steps on it can throw the
    training off course; the warm-up keeps them small until the gradients make sense.
    """
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    generator = torch.Generator().manual_seed(seed)
    device = device_of(model)  # the images may wait on the CPU
    steps_per_epoch = math.ceil(len(images) / batch_size)
    total = epochs * steps_per_epoch
    warmup = max(1, round(warmup_fraction * total))

    def schedule(step: int) -> float:  # a factor of lr, for steps 0, 1, …
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    log = TrainingLog()
    start = time.perf_counter()
    model.train()
    try:
        for _ in range(epochs):
            order = torch.randperm(len(images), generator=generator)
            for batch in order.split(batch_size):
                loss = F.cross_entropy(
                    model(images[batch].to(device)), labels[batch].to(device)
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                log.losses.append(loss.item())
                log.learning_rates.append(scheduler.get_last_lr()[0])
                scheduler.step()
    finally:  # eval mode afterwards, also after Ctrl-C
        model.eval()
    log.seconds = time.perf_counter() - start
    return log


# --8<-- [end:train_classifier]


@torch.no_grad()
def predict(
    model: nn.Module, images: torch.Tensor, batch_size: int = 512
) -> torch.Tensor:
    """The class each image scores highest: (B,
    C, height, width) -> (B,) integer labels.

    The model runs in eval mode and is given back in the mode it was in."""
    with evaluating(model):
        images = images.to(device_of(model))
        return torch.cat(
            [model(chunk).argmax(dim=-1) for chunk in images.split(batch_size)]
        )
