"""The PyTorch backend: the same building blocks as the NumPy backend, trainable and GPU-ready."""

from transformer_tutorial.torch.attention import softmax

__all__ = ["softmax"]
