"""Multi-head attention and the Transformer, in NumPy and PyTorch side by side.

The folders show the parts, and imports only point down the list:

* ``experiments``: the commands that measure and store results;
* ``exercises``: the checker that verifies a reader's answers;
* ``numpy`` and ``torch``: the mirrored backends, with the same names, argument order and shapes.
  ``numpy`` is the readable reference (forward passes, float64-friendly); ``torch`` is the trainable twin
  (``nn.Module``, autograd, GPU);
* ``data``: toy tasks, the digits, the site's text, tokenizers and the pretrained checkpoint;
* ``checks``, ``config``, ``costs`` and ``results`` (the stored measurements): framework-free pieces that
  everything may use.
"""

__version__ = "0.1.0"
