"""Multi-head attention and the Transformer, in NumPy and PyTorch side by side.

``transformer_tutorial.numpy`` is the readable reference (forward passes, float64-friendly);
``transformer_tutorial.torch`` is the trainable twin (``nn.Module``, autograd, GPU). Both hold the same concepts
under the same names, with the same argument order and shapes. Framework-free helpers sit beside them.
"""

__version__ = "0.1.0"
