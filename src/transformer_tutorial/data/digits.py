"""The 8 × 8 handwritten digits that scikit-learn ships inside its package, split for training (framework-free).

``sklearn.datasets.load_digits`` reads a small file installed with scikit-learn: nothing is downloaded. The set has
1,797 grey images of the digits 0 to 9, about 180 of each. Each pixel counts the inked pixels in one 4 × 4 block of a 32
× 32 scan, so it holds an integer from 0 to 16 (scikit-learn's copy is the test part of the UCI "Optical Recognition of
Handwritten Digits" set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import check_positive_int

NUM_CLASSES = 10


@dataclass(frozen=True)
class DigitsSplit:
    """Images (N, 1, 8, 8) scaled to [0, 1] as float32, and
    labels (N,) as int64, for training and for testing."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


# --8<-- [start:load_digits]
def load_digits(test_size: int = 450, seed: int = 0) -> DigitsSplit:
    """The digits, shuffled with ``seed`` and split:
    ``test_size`` images for testing, the rest for training.

    Pixels are divided by 16, so that they lie in [0, 1], and given a channel axis: (N, 1, 8, 8), the layout of a grey
    image batch in PyTorch.

    Examples:
        >>> digits = load_digits()
        >>> digits.train_images.shape, digits.test_images.shape
        ((1347, 1, 8, 8), (450, 1, 8, 8))
    """
    # imported here: it takes a second or two
    from sklearn.datasets import load_digits as sklearn_load_digits

    check_positive_int("test_size", test_size)
    data = sklearn_load_digits()
    if test_size >= len(data.target):
        raise ValueError(
            f"test_size={test_size} leaves no training images out of {len(data.target)}"
        )
    images = (data.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    labels = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    test, train = order[:test_size], order[test_size:]
    return DigitsSplit(images[train], labels[train], images[test], labels[test])


# --8<-- [end:load_digits]


def confusion_matrix(
    labels: np.ndarray, predictions: np.ndarray, num_classes: int = NUM_CLASSES
) -> np.ndarray:
    """(K, K) counts: row i, column j is the number of
    images of class i that were predicted as class j.

    Examples:
        >>> confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), num_classes=2)
        array([[1, 1],
               [0, 1]])
    """
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(
            f"labels and predictions must be 1-D of the same length, got shapes {labels.shape} and {predictions.shape}"
        )
    return np.bincount(
        labels * num_classes + predictions, minlength=num_classes * num_classes
    ).reshape(num_classes, num_classes)
