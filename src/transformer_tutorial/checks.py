"""Argument checks shared by the NumPy and PyTorch backends.

Both backends validate their inputs the same way and raise the same messages, so the checks live here. They rely only on
what NumPy arrays and PyTorch tensors have in common: ``.shape``, ``.ndim`` and ``.dtype``. Every message names the
argument, the shape it received and the shape it expected.

Arguments are validated once, where a reader's call enters the package: a public function names its check with
``@validated(check)`` (``transformer_tutorial.validation``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any


def format_shape(shape: Sequence[int]) -> str:
    """Write a shape the way Python writes a tuple: ``(2, 3)``, ``(5,)``, ``()``.

    Examples:
        >>> format_shape((2, 3))
        '(2, 3)'
        >>> format_shape([5])
        '(5,)'
    """
    return str(tuple(int(size) for size in shape))


def is_bool_dtype(array: Any) -> bool:
    """True for ``numpy.bool_`` arrays and ``torch.bool`` tensors."""
    return str(array.dtype) in ("bool", "torch.bool")


def check_array(name: str, value: Any, array_type: type, type_name: str) -> None:
    """Raise ``TypeError`` unless ``value`` is an instance of ``array_type``."""
    if not isinstance(value, array_type):
        raise TypeError(f"{name} must be a {type_name}, got {type(value).__name__}")


def check_ndim(name: str, array: Any, ndim: int, layout: str) -> None:
    """Raise ``ValueError`` unless ``array`` has ``ndim`` dimensions.

    Args:
        name: The argument's name, as the caller wrote it.
        array: The array or tensor to check.
        ndim: The number of dimensions it must have.
        layout: The expected shape in letters, for the message, such as ``"(B, T, D)"``.

    Examples:
        >>> import numpy as np
        >>> check_ndim("query", np.zeros((4, 8)), 3, "(B, T, D)")
        Traceback (most recent call last):
        ...
        ValueError: query must have 3 dimensions (B, T, D), got shape (4, 8)
    """
    if array.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions {layout}, got shape {format_shape(array.shape)}"
        )


def check_positive_int(name: str, value: Any, allow_zero: bool = False) -> None:
    """Raise unless ``value`` is an integer above
    zero (or at least zero, with ``allow_zero``).

    Examples:
        >>> check_positive_int("num_heads", 2.0)
        Traceback (most recent call last):
        ...
        TypeError: num_heads must be an int, got float 2.0
    """
    check_int(name, value)
    smallest = 0 if allow_zero else 1
    if value < smallest:
        raise ValueError(f"{name} must be at least {smallest}, got {value}")


def check_int(name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is an integer
    (of any sign; ``True`` and ``2.0`` are refused).

    Examples:
        >>> check_int("offset", 1.5)
        Traceback (most recent call last):
        ...
        TypeError: offset must be an int, got float 1.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")


def check_positive_number(name: str, value: Any) -> None:
    """Raise unless ``value`` is a finite real number above zero.

    Examples:
        >>> check_positive_number("base", 0)
        Traceback (most recent call last):
        ...
        ValueError: base must be a finite number above 0, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number, got {type(value).__name__} {value!r}"
        )
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a finite number above 0, got {value}")


def check_probability(name: str, value: Any) -> None:
    """Raise unless ``value`` is a dropout probability: a real number in [0, 1).

    Examples:
        >>> check_probability("dropout_p", 1.0)
        Traceback (most recent call last):
        ...
        ValueError: dropout_p must be in [0, 1), got 1.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number, got {type(value).__name__} {value!r}"
        )
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")


def check_heads(
    d_model: int,
    num_heads: int,
    name: str = "d_model",
    shape: Sequence[int] | None = None,
) -> None:
    """Raise unless ``d_model`` features split evenly
    over ``num_heads`` heads (both positive ints).

    With ``shape``, ``d_model`` is the feature count of the array ``name`` of that shape, for the message.

    Examples:
        >>> check_heads(512, 6)
        Traceback (most recent call last):
        ...
        ValueError: d_model=512 is not divisible by num_heads=6
        >>> check_heads(10, 4, "x", (2, 3, 10))
        Traceback (most recent call last):
        ...
        ValueError: x has 10 features (shape (2, 3, 10)), not divisible by num_heads=4
    """
    check_positive_int(name, d_model, allow_zero=shape is not None)
    check_positive_int("num_heads", num_heads)
    if d_model % num_heads:
        what = (
            f"d_model={d_model} is"
            if shape is None
            else f"{name} has {d_model} features (shape {format_shape(shape)}),"
        )
        raise ValueError(f"{what} not divisible by num_heads={num_heads}")


def check_kv_heads(num_heads: int, num_kv_heads: int) -> None:
    """Raise unless ``num_kv_heads`` (G) key/value heads
    can be shared evenly by ``num_heads`` (H) query heads.

    Examples:
        >>> check_kv_heads(8, 3)
        Traceback (most recent call last):
        ...
        ValueError: num_kv_heads=3 does not divide num_heads=8: each key/value head must serve H / G query heads
    """
    check_positive_int("num_heads", num_heads)
    check_positive_int("num_kv_heads", num_kv_heads)
    if num_heads % num_kv_heads:
        raise ValueError(
            f"num_kv_heads={num_kv_heads} does not divide num_heads={num_heads}: each key/value head must serve "
            "H / G query heads"
        )


def check_top_p(value: Any) -> None:
    """Raise unless ``value`` is a nucleus probability: a real number in (0, 1].

    Examples:
        >>> check_top_p(0.0)
        Traceback (most recent call last):
        ...
        ValueError: top_p must be in (0, 1], got 0.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"top_p must be a number, got {type(value).__name__} {value!r}")
    if not 0 < value <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {value}")


def check_grouped_heads(query: Any, key: Any, value: Any) -> tuple[int, int]:
    """Check grouped-query inputs: query (B, H, T, d_k), key
    (B, G, S, d_k), value (B, G, S, d_v); return (H, G)."""
    check_ndim("query", query, 4, "(B, H, T, d_k)")
    check_ndim("key", key, 4, "(B, G, S, d_k)")
    check_ndim("value", value, 4, "(B, G, S, d_v)")
    check_query_key_value(query, key, value)
    check_same_size("query", query, 0, "key", key, 0, "batch size")
    check_same_size("key", key, 0, "value", value, 0, "batch size")
    check_same_size("key", key, 1, "value", value, 1, "number of heads")
    num_heads, num_kv_heads = query.shape[1], key.shape[1]
    if num_kv_heads == 0 or num_heads % num_kv_heads:
        raise ValueError(
            f"key has {num_kv_heads} heads, which does not divide the {num_heads} heads of query "
            f"(shapes {format_shape(query.shape)} and {format_shape(key.shape)})"
        )
    return num_heads, num_kv_heads


def check_same_size(
    name_a: str, a: Any, axis_a: int, name_b: str, b: Any, axis_b: int, what: str
) -> None:
    """Raise ``ValueError`` unless two arrays
    have the same size along the given axes.

    Examples:
        >>> import numpy as np
        >>> check_same_size("key", np.zeros((2, 5, 8)), 1, "value", np.zeros((2, 4, 8)), 1, "length")
        Traceback (most recent call last):
        ...
        ValueError: key and value must have the same length (axis 1 and axis 1), got shapes (2, 5, 8) and (2, 4, 8)
    """
    if a.shape[axis_a] != b.shape[axis_b]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same {what} (axis {axis_a} and axis {axis_b}), "
            f"got shapes {format_shape(a.shape)} and {format_shape(b.shape)}"
        )


def check_axis(name: str, axis: int, ndim: int) -> None:
    """Raise ``ValueError`` unless ``axis`` indexes one of
    ``ndim`` dimensions (negative counts from the end)."""
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"{name} must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}={axis} is out of range for an input with {ndim} dimensions"
        )


def broadcasts_to(shape: Sequence[int], target: Sequence[int]) -> bool:
    """True when an array of ``shape`` broadcasts
    to ``target`` without changing ``target``.

    Examples:
        >>> broadcasts_to((1, 4), (3, 4))
        True
        >>> broadcasts_to((4, 3), (3, 4))
        False
    """
    if len(shape) > len(target):
        return False
    return all(
        size in (1, goal)
        for size, goal in zip(reversed(shape), reversed(target), strict=False)
    )


def check_bool(name: str, mask: Any) -> None:
    """Raise ``TypeError`` unless ``mask`` is boolean (a
    float mask of 0/1 or of -inf/0 is another convention)."""
    if not is_bool_dtype(mask):
        raise TypeError(
            f"{name} must be boolean (True = may attend), got dtype {mask.dtype}; convert a 0/1 mask with mask == 1"
        )


def check_bool_mask(name: str, mask: Any, target: Sequence[int], layout: str) -> None:
    """Raise unless ``mask`` is boolean (``TypeError``) and
    broadcasts to ``target`` without changing it (``ValueError``)."""
    check_bool(name, mask)
    if not broadcasts_to(mask.shape, target):
        raise ValueError(
            f"{name} has shape {format_shape(mask.shape)}, which does not broadcast to {format_shape(target)} {layout}"
        )


def check_float_arrays(
    arrays: dict[str, Any],
    array_type: type,
    type_name: str,
    dtype: Any = None,
    dtype_of: str = "",
) -> None:
    """Raise ``TypeError`` unless every value is an
    ``array_type`` and all share one floating-point dtype.

    PyTorch multiplies only tensors of one dtype, and integers not at all. With ``dtype``, that dtype is the one
    required (``dtype_of`` says whose it is, such as "the weights").

    Examples:
        >>> import numpy as np
        >>> check_float_arrays({"query": np.zeros(2), "key": np.zeros(2, dtype=int)}, np.ndarray, "numpy.ndarray")
        Traceback (most recent call last):
        ...
        TypeError: key must hold floating-point numbers, got dtype int64; convert it with .float() or .astype(float)
    """
    for name, array in arrays.items():
        check_array(name, array, array_type, type_name)
        if "float" not in str(array.dtype):
            raise TypeError(
                f"{name} must hold floating-point numbers, got dtype {array.dtype}; "
                "convert it with .float() or .astype(float)"
            )
        if dtype is None:
            dtype, dtype_of = array.dtype, name
        elif array.dtype != dtype:
            raise TypeError(
                f"{name} has dtype {array.dtype}, {dtype_of} {dtype}; convert one of them with .to(dtype)"
            )


def check_query_key_value(query: Any, key: Any, value: Any) -> None:
    """Check attention inputs (..., T, d_k), (..., S, d_k),
    (..., S, d_v): the dimensions that must agree do."""
    for name, array in (("query", query), ("key", key), ("value", value)):
        if array.ndim < 2:
            raise ValueError(
                f"{name} must have at least 2 dimensions (..., length, features), got shape {format_shape(array.shape)}"
            )
    if not query.ndim == key.ndim == value.ndim:
        raise ValueError(
            f"query, key and value must have the same number of dimensions, got shapes {format_shape(query.shape)}, "
            f"{format_shape(key.shape)} and {format_shape(value.shape)}"
        )
    check_same_size("query", query, -1, "key", key, -1, "features")
    check_same_size("key", key, -2, "value", value, -2, "length")


def check_attention_mask(mask: Any, scores_shape: Sequence[int]) -> None:
    """A mask for scores (..., T, S) is (T, S), or has one
    entry per score dimension (each 1 or the full size).

    Requiring the full number of dimensions stops a (B, 1, S) mask from lining up with (H, T, S) by accident.
    """
    if mask.ndim not in (2, len(scores_shape)):
        raise ValueError(
            f"mask must have 2 dimensions (T, S) or {len(scores_shape)} like the scores "
            f"{format_shape(scores_shape)}, got shape {format_shape(mask.shape)}"
        )
    check_bool_mask(
        "mask",
        mask,
        scores_shape,
        "(T, S), or one entry per score dimension, each 1 or the full size",
    )


def check_multi_head_inputs(query: Any, key: Any, value: Any, d_model: int) -> None:
    """Check multi-head attention inputs: query (B, T, D), key and value (B, S, D)."""
    for name, array in (("query", query), ("key", key), ("value", value)):
        check_ndim(name, array, 3, "(B, T, D)" if name == "query" else "(B, S, D)")
        if array.shape[-1] != d_model:
            raise ValueError(
                f"{name} must have d_model={d_model} features, got shape {format_shape(array.shape)}"
            )
    check_same_size("query", query, 0, "key", key, 0, "batch size")
    check_same_size("query", query, 0, "value", value, 0, "batch size")
    check_same_size("key", key, 1, "value", value, 1, "length")


def check_multi_head_mask(
    mask: Any, batch: int, query_length: int, key_length: int
) -> None:
    """Check a multi-head attention mask: (T, S) for every sequence alike, (B, T,
    S) per sequence, or (B, 1, S) for key padding; boolean, True = may attend."""
    if mask is None:
        return
    if mask.ndim == 2:
        check_bool_mask("mask", mask, (query_length, key_length), "(T, S)")
        return
    if mask.ndim != 3:
        raise ValueError(
            f"mask must have shape (T, S) = {format_shape((query_length, key_length))}, (B, T, S) = "
            f"{format_shape((batch, query_length, key_length))} or (B, 1, S) = "
            f"{format_shape((batch, 1, key_length))}, got {format_shape(mask.shape)}"
        )
    check_bool_mask("mask", mask, (batch, query_length, key_length), "(B, T, S)")


def check_scores_mask(query: Any, key: Any, mask: Any) -> None:
    """Check that the batch dimensions of query (..., T, d_k) and key (...,
    S, d_k) broadcast, and that ``mask`` fits their scores (..., T, S)."""
    batch = broadcast_shape(query.shape[:-2], key.shape[:-2])
    if batch is None:
        raise ValueError(
            f"query {format_shape(query.shape)} and key {format_shape(key.shape)} have leading dimensions that do not "
            "broadcast"
        )
    if mask is not None:
        check_attention_mask(mask, (*batch, query.shape[-2], key.shape[-2]))


def broadcast_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...] | None:
    """The shape ``a`` and ``b`` broadcast to, or None if they do not.

    Examples:
        >>> broadcast_shape((2, 1, 3), (4, 1)), broadcast_shape((2,), (3,))
        ((2, 4, 3), None)
    """
    result = []
    for x, y in zip(reversed(tuple(a)), reversed(tuple(b)), strict=False):
        if x != y and 1 not in (x, y):
            return None
        result.append(max(x, y) if 0 not in (x, y) else 0)
    longer = tuple(a) if len(a) > len(b) else tuple(b)
    return (*longer[: len(longer) - len(result)], *reversed(result))


def check_tokens(name: str, tokens: Any, vocab_size: int, max_len: int) -> None:
    """Check a (B, T) array of token ids: integers in
    [0, vocab_size), at most ``max_len`` positions."""
    check_ndim(name, tokens, 2, "(B, T)")
    if "int" not in str(tokens.dtype):
        raise TypeError(f"{name} must hold integer token ids, got dtype {tokens.dtype}")
    if tokens.shape[1] > max_len:
        raise ValueError(
            f"{name} has {tokens.shape[1]} positions (shape {format_shape(tokens.shape)}), more than the "
            f"positional table's max_len={max_len}"
        )
    if tokens.shape[0] * tokens.shape[1] == 0 or getattr(tokens, "is_meta", False):
        return  # no ids, or a tensor on the meta device: shapes without values
    smallest, largest = int(tokens.min()), int(tokens.max())
    if smallest < 0 or largest >= vocab_size:
        raise ValueError(
            f"{name} holds ids from {smallest} to {largest}, outside the vocabulary [0, {vocab_size})"
        )


def check_patch_size(patch_size: int, height: int, width: int, what: str) -> None:
    """Raise unless ``patch_size`` is a positive int that divides ``height`` and
    ``width``; ``what`` starts the message by saying whose height and width they are."""
    check_positive_int("patch_size", patch_size)
    if height % patch_size or width % patch_size:
        raise ValueError(f"{what}, not both divisible by patch_size={patch_size}")


def check_image_patches(name: str, images: Any, patch_size: int) -> None:
    """Raise unless ``patch_size`` is a positive int that
    divides the height and the width of (B, C, H, W) images.

    Examples:
        >>> import numpy as np
        >>> check_image_patches("images", np.zeros((2, 1, 8, 6)), 4)
        Traceback (most recent call last):
        ...
        ValueError: images has height 8 and width 6 (shape (2, 1, 8, 6)), not both divisible by patch_size=4
    """
    height, width = images.shape[-2:]
    check_patch_size(
        patch_size,
        height,
        width,
        f"{name} has height {height} and width {width} (shape {format_shape(images.shape)})",
    )


def check_patch_sequence(
    name: str, patches: Any, patch_size: int, height: int, width: int
) -> int:
    """Check (B, N, C·P·P) patches against the (H, W) image
    they should tile; return the number of channels C."""
    check_positive_int("height", height)
    check_positive_int("width", width)
    check_patch_size(patch_size, height, width, f"height={height} and width={width}")
    expected = (height // patch_size) * (width // patch_size)
    features = patches.shape[2]
    if (
        patches.shape[1] != expected
        or features % (patch_size * patch_size)
        or features == 0
    ):
        raise ValueError(
            f"{name} must have shape (B, {expected}, C·{patch_size}·{patch_size}) to tile a {height} × {width} "
            f"image with patches of size {patch_size}, got {format_shape(patches.shape)}"
        )
    return features // (patch_size * patch_size)


def check_generation_room(
    prompt_length: int, max_new_tokens: int, max_len: int
) -> None:
    """A prompt of ``prompt_length`` tokens has room for
    ``max_new_tokens`` more within ``max_len`` positions."""
    if prompt_length == 0:
        raise ValueError(
            "prompt must hold at least one token per sequence, got shape (B, 0)"
        )
    if prompt_length + max_new_tokens > max_len:
        raise ValueError(
            f"a prompt of {prompt_length} tokens plus max_new_tokens={max_new_tokens} is more than the model's "
            f"max_len={max_len} positions"
        )
