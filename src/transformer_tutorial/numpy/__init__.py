"""The NumPy backend: every building block as a plain function over arrays.

It never imports torch, so it runs wherever NumPy does.
"""

from transformer_tutorial.numpy.attention import softmax

__all__ = ["softmax"]
