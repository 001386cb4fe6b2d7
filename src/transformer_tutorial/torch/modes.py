"""What a library function may do to the model and the caller's state: its mode, its device, the random state.

The rule, the same in every module of the package:

* Functions that read a model (decoding, generating, evaluating, predicting) run it in eval mode and give it
  back in the mode they found it in (``evaluating``).
* Functions that train a model switch it to train mode and leave it in eval mode, ready to be evaluated.
* Data follows the model: a function moves the tensors it builds to the device of the model's parameters
  (``device_of``).
* No function touches the caller's global random state. A function that needs randomness takes a
  ``torch.Generator`` or a seed; one that must seed the global generator (to build a model with
  ``nn.Module``'s initialisers, which draw from it) does so inside ``seeded``, which gives the caller's state
  back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode while the block runs, then the mode
    ``model`` had before (also when the block raises).

    Examples:
        >>> model = nn.Dropout(0.5)
        >>> with evaluating(model):
        ...     model.training
        False
        >>> model.training
        True
    """
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def device_of(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or
    buffer); the CPU for a model that has neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global generator for the block,
    and give the caller's random state back after it.

    The state of the CPU generator and of every CUDA generator in use is saved and restored (``torch.random.fork_rng``),
    so a reader's own ``torch.manual_seed`` still decides what they draw next.

    Examples:
        >>> _ = torch.manual_seed(123)
        >>> with seeded(0):
        ...     _ = torch.rand(1)  # drawn from seed 0
        >>> drawn = torch.rand(1)
        >>> _ = torch.manual_seed(123)
        >>> bool(torch.equal(drawn, torch.rand(1)))  # as if the block had not run
        True
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield
