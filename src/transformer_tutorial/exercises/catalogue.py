"""Every exercise of the site, chapter by chapter: its cases, its references and the mistakes it recognises.

A case's inputs are NumPy arrays made from a seeded generator, so every run checks the same numbers; a
PyTorch solution receives them as tensors of the same dtype. Each reference is computed when the case is
compared, from the package's NumPy code and, where PyTorch has the operation, from PyTorch itself.
"""

from __future__ import annotations

import numpy as np

from transformer_tutorial.exercises import mistakes as wrong
from transformer_tutorial.exercises.checker import Case, Exercise, Mistake, quietly
from transformer_tutorial.numpy import attention as na
from transformer_tutorial.numpy import decoder_only as nd
from transformer_tutorial.numpy import encoder_only as ne
from transformer_tutorial.numpy import layers as nl
from transformer_tutorial.numpy import modern as nm
from transformer_tutorial.numpy import positional as npos
from transformer_tutorial.numpy import sampling as ns
from transformer_tutorial.numpy import vision as nv

PACKAGE = "the package's NumPy reference"


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _normal(
    seed: int, *shape: int, dtype: type = np.float64, scale: float = 1.0
) -> np.ndarray:
    return (_rng(seed).normal(size=shape) * scale).astype(dtype)


def _torch():
    import torch
    import torch.nn.functional as F

    return torch, F


def _np(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _with_mask(
    shape: tuple[int, ...], seed: int, fully_masked_row: int | None = None
) -> np.ndarray:
    """A random boolean mask with at least one True per row, optionally one row all False."""
    mask = _rng(seed).random(shape) < 0.6
    mask[..., 0] = True
    if fully_masked_row is not None:
        mask[..., fully_masked_row, :] = False
    return mask


# --- attention -------------------------------------------------------------------------------------------------


def _softmax_cases() -> list[Case]:
    torch, _ = _torch()
    specs = [
        ("x = [1, 2, 3]", np.array([1.0, 2.0, 3.0]), -1),
        ("(2, 3, 5) float64, axis=-1", _normal(1, 2, 3, 5), -1),
        ("scores near ±1000 (exp would overflow)", _normal(2, 3, 4, scale=1000.0), -1),
        ("(4, 7) float32", _normal(3, 4, 7, dtype=np.float32), -1),
        ("(3, 4), axis=0", _normal(4, 3, 4), 0),
        ("(2, 3, 4), axis=1", _normal(5, 2, 3, 4), 1),
        ("one entry, (1, 1)", np.array([[5.0]]), -1),
    ]
    return [
        Case(
            description,
            (x, axis),
            {
                PACKAGE: lambda x=x, axis=axis: na.softmax(x, axis=axis),
                "torch.softmax": lambda x=x, axis=axis: _np(
                    torch.softmax(torch.from_numpy(x), dim=axis)
                ),
            },
        )
        for description, x, axis in specs
    ]


def _attention_case(description: str, q, k, v, mask) -> Case:
    torch, F = _torch()

    def pytorch():
        t_mask = None if mask is None else torch.from_numpy(np.ascontiguousarray(mask))
        tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
        output = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=t_mask)
        _, weights = na.scaled_dot_product_attention(
            q, k, v, mask
        )  # PyTorch returns no weights
        return _np(output), weights

    return Case(
        description,
        (q, k, v, mask),
        {
            PACKAGE: lambda: na.scaled_dot_product_attention(q, k, v, mask),
            "F.scaled_dot_product_attention": pytorch,
        },
    )


def _attention_cases(
    fully_masked: bool = True, always_masked: bool = False
) -> list[Case]:
    def qkv(seed, shape_q, shape_k, d_v, dtype=np.float64, scale=1.0):
        q = _normal(seed, *shape_q, dtype=dtype, scale=scale)
        k = _normal(seed + 1, *shape_k, dtype=dtype, scale=scale)
        v = _normal(seed + 2, *shape_k[:-1], d_v, dtype=dtype)
        return q, k, v

    cases = []
    if not always_masked:
        cases.append(
            _attention_case("T=3, S=4, d=2, no mask", *qkv(10, (3, 2), (4, 2), 2), None)
        )
    cases += [
        _attention_case(
            "B=2, T=3, S=5, d=4, d_v=6, random mask",
            *qkv(20, (2, 3, 4), (2, 5, 4), 6),
            _with_mask((3, 5), 1),
        ),
        _attention_case(
            "B=2, H=3, T=4, S=4, d=8, per-sequence mask (2, 1, 4, 4)",
            *qkv(30, (2, 3, 4, 8), (2, 3, 4, 8), 8),
            _with_mask((2, 1, 4, 4), 2),
        ),
    ]
    if fully_masked:
        cases.append(
            _attention_case(
                "T=3, S=4, row 1 fully masked (must give zeros)",
                *qkv(40, (3, 4), (4, 4), 3),
                _with_mask((3, 4), 3, 1),
            )
        )
    cases += [
        _attention_case(
            "T=1, S=1", *qkv(50, (1, 4), (1, 4), 4), np.ones((1, 1), dtype=bool)
        ),
        _attention_case(
            "float32, B=2, T=6, S=6, d=8",
            *qkv(60, (2, 6, 8), (2, 6, 8), 8, np.float32),
            _with_mask((6, 6), 4),
        ),
        _attention_case(
            "large scores (q, k × 30)",
            *qkv(70, (4, 16), (5, 16), 4, scale=30.0),
            _with_mask((4, 5), 5),
        ),
    ]
    if always_masked:
        cases = [case for case in cases if case.args[3] is not None]
    return cases


ATTENTION_MISTAKES = (
    Mistake(
        "mask polarity: True must mean 'may attend'",
        "This treats True as blocked, which is nn.MultiheadAttention's convention; fill the scores where the mask"
        " is False.",
        wrong.attention_with_flipped_mask,
    ),
    Mistake(
        "the scores are not divided by √d",
        "Divide Q Kᵀ by the square root of the query width d before the softmax.",
        wrong.attention_without_scaling,
    ),
    Mistake(
        "a fully masked row gives NaN",
        "With -inf in every entry of a row, max subtraction computes -inf - (-inf) = NaN; give such a row zero"
        " weights instead.",
        wrong.attention_with_infinite_fill,
    ),
    Mistake(
        "the softmax runs over the queries (axis -2), not the keys",
        "Each query's weights over the keys must sum to 1: normalise along the last axis of the scores.",
        wrong.attention_softmax_over_queries,
    ),
)


def _shapes_answer():
    q, k, v = np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), np.zeros((2, 5, 7))
    output, weights = na.scaled_dot_product_attention(q, k, v)
    return (output.shape, weights.shape)


ATTENTION = [
    Exercise(
        "attention/softmax",
        "implement",
        "A softmax that does not overflow",
        "softmax",
        ("x", "axis"),
        _softmax_cases,
        (
            Mistake(
                "exp overflows: the largest entry is not subtracted first",
                "exp(1000) is inf in float64, and inf / inf is NaN; subtract the maximum along the axis before"
                " exp (softmax does not change when a constant is added to a whole row).",
                wrong.softmax_without_shift,
            ),
            Mistake(
                "normalised over the whole array, not along axis",
                "Sum with axis=axis and keepdims=True, so that every slice along the axis sums to 1.",
                wrong.softmax_over_everything,
            ),
        ),
    ),
    Exercise(
        "attention/scaled-dot-product-attention",
        "implement",
        "Scaled dot-product attention with a mask",
        "scaled_dot_product_attention",
        ("query", "key", "value", "mask"),
        _attention_cases,
        ATTENTION_MISTAKES,
    ),
    Exercise(
        "attention/mask-polarity",
        "bug",
        "A mask that blocks the wrong entries",
        "attention",
        ("query", "key", "value", "mask"),
        lambda: _attention_cases(fully_masked=False, always_masked=True),
        tuple(
            mistake for mistake in ATTENTION_MISTAKES if "NaN" not in mistake.name
        ),  # no fully masked row here
    ),
    Exercise(
        "attention/predict-shapes",
        "predict",
        "The shapes of the output and the weights",
        answer=_shapes_answer,
        answer_hint="a tuple of two shapes, such as ((1, 2), (3, 4))",
    ),
]


# --- multi-head attention --------------------------------------------------------------------------------------


def _identity_mha(x: np.ndarray, num_heads: int) -> np.ndarray:
    """nn.MultiheadAttention's self-attention of x with every projection the identity: (B, T, D) -> (B, T, D)."""
    torch, _ = _torch()
    width = x.shape[-1]
    module = torch.nn.MultiheadAttention(
        width, num_heads, bias=False, batch_first=True, dtype=torch.float64
    )
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.eye(width, dtype=torch.float64).repeat(3, 1))
        module.out_proj.weight.copy_(torch.eye(width, dtype=torch.float64))
    tensor = torch.from_numpy(x.astype(np.float64))
    output, _ = module(tensor, tensor, tensor, need_weights=False)
    return _np(output).astype(x.dtype)


def _attend_heads(heads: np.ndarray) -> np.ndarray:
    """Self-attention within each head of (B, H, T, d), heads merged again: what a split feeds into."""
    output, _ = na.scaled_dot_product_attention(heads, heads, heads)
    return na.merge_heads(output)


def _split_cases() -> list[Case]:
    specs = [
        (
            "x = arange(16).reshape(1, 2, 8), num_heads=2",
            np.arange(16.0).reshape(1, 2, 8),
            2,
        ),
        ("x (2, 4, 8), num_heads=2", _normal(1, 2, 4, 8), 2),
        ("x (3, 8, 12), num_heads=4", _normal(2, 3, 8, 12), 4),
        ("T=1: x (1, 1, 6), num_heads=3", _normal(3, 1, 1, 6), 3),
        ("one head: x (2, 3, 4), num_heads=1", _normal(4, 2, 3, 4), 1),
        ("one feature per head: x (2, 4, 4), num_heads=4", _normal(5, 2, 4, 4), 4),
        ("float32: x (2, 6, 8), num_heads=2", _normal(6, 2, 6, 8, dtype=np.float32), 2),
    ]
    cases = [
        Case(d, (x, h), {PACKAGE: lambda x=x, h=h: na.split_heads(x, h)})
        for d, x, h in specs
    ]
    x = _normal(7, 2, 6, 12)
    cases.append(
        Case(
            "x (2, 6, 12), num_heads=3, fed through attention in each head and merged",
            (x, 3),
            {
                PACKAGE: lambda: _attend_heads(na.split_heads(x, 3)),
                "nn.MultiheadAttention (identity projections)": lambda: _identity_mha(
                    x, 3
                ),
            },
            post=_attend_heads,
        )
    )
    return cases


def _heads_cases() -> list[Case]:
    specs = [
        ("self-attention: (2, 4, 8), num_heads=2", 2, 4, 4, 8, 2, np.float64),
        ("cross-attention: T=3, S=5, D=12, num_heads=3", 2, 3, 5, 12, 3, np.float64),
        ("T=1, S=1: (1, 1, 8), num_heads=4", 1, 1, 1, 8, 4, np.float64),
        ("float32: (2, 6, 16), num_heads=4", 2, 6, 6, 16, 4, np.float32),
        (
            "large scores: (1, 5, 16), num_heads=2, inputs × 4",
            1,
            5,
            5,
            16,
            2,
            np.float64,
        ),
    ]
    cases = []
    for seed, (description, b, t, s, d, h, dtype) in enumerate(specs):
        scale = 4.0 if "large" in description else 1.0
        q = _normal(seed, b, t, d, dtype=dtype, scale=scale)
        k = q if t == s else _normal(seed + 10, b, s, d, dtype=dtype, scale=scale)
        v = q if t == s else _normal(seed + 20, b, s, d, dtype=dtype)
        references = {
            PACKAGE: lambda q=q, k=k, v=v, h=h: na.merge_heads(
                na.scaled_dot_product_attention(
                    *(na.split_heads(a, h) for a in (q, k, v))
                )[0]
            )
        }
        if (
            t == s
        ):  # self-attention, which nn.MultiheadAttention computes with identity projections
            references["nn.MultiheadAttention (identity projections)"] = (
                lambda q=q, h=h: _identity_mha(q, h)
            )
        cases.append(Case(description, (q, k, v, h), references))
    return cases


TOKEN_SPLIT = "this splits tokens, not features"
MULTI_HEAD = [
    Exercise(
        "multi-head/split-heads",
        "implement",
        "Split the features into heads",
        "split_heads",
        ("x", "num_heads"),
        _split_cases,
        (
            Mistake(
                TOKEN_SPLIT,
                "Head h got a block of T/H consecutive positions with all D features, the way np.split(Q, h)"
                " cuts a (T, D) matrix. Every head must see every token through D/H of its features:"
                " x.reshape(B, T, H, D // H), then swap axes 1 and 2.",
                wrong.split_tokens,
            ),
            Mistake(
                "reshaped to (B, H, T, d) without a transpose",
                "Reshaping (B, T, D) straight to (B, H, T, D/H) mixes the features of different tokens in one"
                " head; reshape to (B, T, H, D/H) first, then swap axes 1 and 2.",
                wrong.reshape_without_transpose,
            ),
        ),
    ),
    Exercise(
        "multi-head/scale-by-d-model",
        "bug",
        "Heads that are too sure of themselves",
        "multi_head_attention",
        ("query", "key", "value", "num_heads"),
        _heads_cases,
        (
            Mistake(
                "the scores are scaled by √d_model, not by √(d_model / H)",
                "Each head's dot products are sums over its own D/H features: divide them by √(D/H).",
                wrong.multi_head_attention_scaled_by_d_model,
            ),
            Mistake(
                TOKEN_SPLIT,
                "Each head must see every position, through D/H of its features.",
                wrong.multi_head_attention_with_token_split,
            ),
            Mistake(
                "the scores are not scaled at all",
                "Divide each head's scores by √(D/H).",
                wrong.multi_head_attention_without_scaling,
            ),
        ),
    ),
    Exercise(
        "multi-head/predict-split-shape",
        "predict",
        "The shape after the split",
        answer=lambda: na.split_heads(np.zeros((2, 10, 64)), 8).shape,
        answer_hint="a tuple of ints",
    ),
]


# --- positional encodings --------------------------------------------------------------------------------------


def _sinusoidal_cases() -> list[Case]:
    specs = [(3, 4), (50, 16), (1, 8), (7, 5), (20, 2), (100, 512)]
    return [
        Case(
            f"length={t}, d_model={d}" + (" (odd width)" if d % 2 else ""),
            (t, d),
            {PACKAGE: lambda t=t, d=d: npos.sinusoidal_encoding(t, d)},
        )
        for t, d in specs
    ]


SINUSOIDAL_MISTAKES = (
    Mistake(
        "the frequency exponent uses i, not 2i",
        "Pair i (columns 2i and 2i + 1) turns at pos / 10000^(2i / D): the exponent is the even column's index"
        " over D, so the wavelengths reach 10000·2π at the last pair.",
        wrong.sinusoidal_with_exponent_i,
    ),
    Mistake(
        "sines and cosines are concatenated, not interleaved",
        "This is tensor2tensor's layout, with its own frequencies; the paper puts sin in column 2i and cos in"
        " column 2i + 1.",
        wrong.sinusoidal_concatenated,
    ),
    Mistake(
        "sin and cos are swapped",
        "Even columns hold sines, odd columns cosines: row 0 is [0, 1, 0, 1, …].",
        wrong.sinusoidal_sin_cos_swapped,
    ),
)

POSITIONAL = [
    Exercise(
        "positional-encodings/sinusoidal",
        "implement",
        "The sinusoidal table",
        "sinusoidal_encoding",
        ("length", "d_model"),
        _sinusoidal_cases,
        SINUSOIDAL_MISTAKES,
        atol=1e-9,
    ),
    Exercise(
        "positional-encodings/frequency-exponent",
        "bug",
        "Frequencies that fall too slowly",
        "sinusoidal_encoding",
        ("length", "d_model"),
        _sinusoidal_cases,
        SINUSOIDAL_MISTAKES,
        atol=1e-9,
    ),
    Exercise(
        "positional-encodings/predict-first-row",
        "predict",
        "Row 0 of the table",
        answer=lambda: npos.sinusoidal_encoding(1, 6)[0].tolist(),
        answer_hint="a list of six numbers",
        atol=1e-3,
    ),
]


# --- the architecture ------------------------------------------------------------------------------------------


def _layer_norm_cases() -> list[Case]:
    torch, F = _torch()
    specs = [
        ("x (2, 3, 8)", _normal(1, 2, 3, 8), 1e-5),
        ("float32: x (4, 16)", _normal(2, 4, 16, dtype=np.float32), 1e-5),
        ("x (1, 1, 6), T=1", _normal(3, 1, 1, 6), 1e-5),
        ("features around 1000 (x (3, 4) + 1000)", _normal(4, 3, 4) + 1000.0, 1e-5),
        ("a constant row (variance 0: eps decides)", np.full((2, 5), 3.0), 1e-5),
        ("eps=1e-12, as BERT uses: x (2, 4, 12)", _normal(5, 2, 4, 12), 1e-12),
        ("eps=0.1: x (3, 4)", _normal(6, 3, 4) * 0.2, 0.1),
    ]
    cases = []
    for seed, (description, x, eps) in enumerate(specs):
        width = x.shape[-1]
        weight = (1.0 + 0.5 * _normal(100 + seed, width)).astype(x.dtype)
        bias = (0.5 * _normal(200 + seed, width)).astype(x.dtype)
        cases.append(
            Case(
                description,
                (x, weight, bias, eps),
                {
                    PACKAGE: lambda x=x, w=weight, b=bias, e=eps: nl.layer_norm(
                        x, nl.LayerNormParams(w, b, e)
                    ),
                    "F.layer_norm (nn.LayerNorm)": lambda x=x, w=weight, b=bias, e=eps: (
                        _np(
                            F.layer_norm(
                                *(torch.from_numpy(a) for a in (x,)),
                                (x.shape[-1],),
                                torch.from_numpy(w),
                                torch.from_numpy(b),
                                e,
                            )
                        )
                    ),
                },
            )
        )
    return cases


LAYER_NORM_MISTAKES = (
    Mistake(
        "unbiased variance (divided by D - 1)",
        "LayerNorm divides the squared deviations by D, as nn.LayerNorm does: x.var(axis=-1) with NumPy's"
        " default ddof=0, or unbiased=False / correction=0 in PyTorch.",
        wrong.layer_norm_unbiased,
    ),
    Mistake(
        "eps is added outside the square root",
        "nn.LayerNorm computes (x - mean) / sqrt(var + eps); the difference shows where the variance is small.",
        wrong.layer_norm_eps_outside,
    ),
    Mistake(
        "the statistics are taken across the batch (axis 0), not across each position's features",
        "That is batch normalisation's axis; LayerNorm normalises every position on its own, over the last axis.",
        wrong.layer_norm_over_batch,
    ),
)


def _encoder_layer_parameters() -> int:
    torch, _ = _torch()
    layer = torch.nn.TransformerEncoderLayer(512, 8, 2048)
    return sum(parameter.numel() for parameter in layer.parameters())


ARCHITECTURE = [
    Exercise(
        "architecture/layer-norm",
        "implement",
        "LayerNorm from its definition",
        "layer_norm",
        ("x", "weight", "bias", "eps"),
        _layer_norm_cases,
        LAYER_NORM_MISTAKES,
        rtol=1e-7,
        atol=1e-9,
    ),
    Exercise(
        "architecture/unbiased-variance",
        "bug",
        "A LayerNorm that is almost right",
        "layer_norm",
        ("x", "weight", "bias", "eps"),
        _layer_norm_cases,
        LAYER_NORM_MISTAKES,
        rtol=1e-7,
        atol=1e-9,
    ),
    Exercise(
        "architecture/predict-parameter-count",
        "predict",
        "The parameters of one encoder layer",
        answer=_encoder_layer_parameters,
        answer_hint="an int",
    ),
]


# --- training and inference ------------------------------------------------------------------------------------


def _learning_rate_reference(step: int, d_model: int, warmup: int) -> float:
    from transformer_tutorial.torch.training import learning_rate

    return learning_rate(step, d_model, warmup)


def _learning_rate_cases() -> list[Case]:
    specs = [
        (1, 512, 4000),
        (100, 512, 4000),
        (3999, 512, 4000),
        (4000, 512, 4000),
        (4001, 512, 4000),
    ]
    specs += [(100_000, 512, 4000), (1, 64, 10), (50, 64, 10)]
    return [
        Case(
            f"step={s}, d_model={d}, warmup={w}",
            (s, d, w),
            {
                "the package's learning_rate": lambda s=s, d=d, w=w: float(
                    _learning_rate_reference(s, d, w)
                )
            },
        )
        for s, d, w in specs
    ]


def _cache_case(
    description: str,
    seed: int,
    shape: tuple[int, ...],
    d_v: int,
    dtype: type = np.float64,
) -> Case:
    """One step with a cache of S - 1 earlier positions; the references attend over all S positions at once."""
    *lead, length, d = shape
    q_all = _normal(seed, *lead, length, d, dtype=dtype)
    k_all = _normal(seed + 1, *lead, length, d, dtype=dtype)
    v_all = _normal(seed + 2, *lead, length, d_v, dtype=dtype)
    args = (
        q_all[..., -1:, :],
        k_all[..., -1:, :],
        v_all[..., -1:, :],
        k_all[..., :-1, :],
        v_all[..., :-1, :],
    )
    torch, F = _torch()

    def full_causal_pass():
        output = F.scaled_dot_product_attention(
            *(torch.from_numpy(a) for a in (q_all, k_all, v_all)), is_causal=True
        )
        return _np(output)[..., -1:, :], k_all, v_all

    def package():
        output, _ = na.scaled_dot_product_attention(
            q_all, k_all, v_all, na.causal_mask(length)
        )
        return output[..., -1:, :], k_all, v_all

    return Case(
        description,
        args,
        {
            PACKAGE: package,
            "the last row of a causal F.scaled_dot_product_attention over all positions": full_causal_pass,
        },
    )


TRAINING = [
    Exercise(
        "training/kv-cache-step",
        "implement",
        "One step with a key/value cache",
        "attend_with_cache",
        ("query", "key", "value", "cached_keys", "cached_values"),
        lambda: [
            _cache_case("an empty cache: first position, d=4", 1, (1, 4), 4),
            _cache_case("4 cached positions, d=4, d_v=3", 2, (5, 4), 3),
            _cache_case("B=2, 6 cached positions, d=8", 3, (2, 7, 8), 8),
            _cache_case("B=2, H=3, 3 cached positions, d=4", 4, (2, 3, 4, 4), 4),
            _cache_case(
                "float32, B=2, 9 cached positions, d=8", 5, (2, 10, 8), 8, np.float32
            ),
        ],
        (
            Mistake(
                "the new token attends before its key and value are in the cache",
                "Append the new key and value first, then attend over all of them: a position may attend to itself.",
                wrong.attend_before_appending,
            ),
            Mistake(
                "the new key and value are put before the cached ones",
                "The attention output does not change, but the cache must stay in position order for the next"
                " step: concatenate the cache first, then the new entries.",
                wrong.prepend_to_cache,
            ),
        ),
    ),
    Exercise(
        "training/no-warmup",
        "bug",
        "A schedule without a warm-up",
        "learning_rate",
        ("step", "d_model", "warmup"),
        _learning_rate_cases,
        (
            Mistake(
                "there is no warm-up: the ramp uses warmup^-0.5",
                "The rising branch is step · warmup^-1.5, which meets step^-0.5 exactly at step = warmup.",
                wrong.learning_rate_without_warmup,
            ),
            Mistake(
                "max instead of min",
                "The schedule takes the smaller of the two branches: the ramp before the warm-up ends, the decay"
                " after.",
                wrong.learning_rate_with_max,
            ),
        ),
        rtol=1e-9,
    ),
    Exercise(
        "training/predict-peak",
        "predict",
        "The largest learning rate of the paper's schedule",
        answer=lambda: float(_learning_rate_reference(4000, 512, 4000)),
        answer_hint="a float, three significant figures are enough",
        rtol=5e-3,
    ),
]


# --- causal self-attention -------------------------------------------------------------------------------------


def _causal_mask_cases() -> list[Case]:
    torch, _ = _torch()

    def pytorch(t, s):
        if t == s:  # PyTorch's own causal mask is a float mask, -inf above the diagonal
            return ~np.isinf(
                _np(torch.nn.Transformer.generate_square_subsequent_mask(t))
            )
        return _np(torch.ones(t, s, dtype=torch.bool).tril(s - t))

    specs = [(4, 4), (1, 1), (3, 5), (1, 6), (7, 7), (2, 2)]
    names = {(3, 5): " (2 cached keys)", (1, 6): " (one new query, 5 cached keys)"}
    return [
        Case(
            f"query_length={t}, key_length={s}{names.get((t, s), '')}",
            (t, s),
            {
                PACKAGE: lambda t=t, s=s: na.causal_mask(t, s),
                "nn.Transformer.generate_square_subsequent_mask"
                if t == s
                else "torch.tril": lambda t=t, s=s: pytorch(t, s),
            },
        )
        for t, s in specs
    ]


def _causal_attention_cases() -> list[Case]:
    torch, F = _torch()
    specs = [
        ("T=S=4, d=3", (4, 3), 4, np.float64),
        ("B=2, T=S=5, d=4", (2, 5, 4), 5, np.float64),
        ("T=S=1", (1, 4), 1, np.float64),
        ("float32, B=2, T=S=6, d=8", (2, 6, 8), 6, np.float32),
        ("T=2 queries after 3 cached positions (S=5)", (2, 4), 5, np.float64),
    ]
    cases = []
    for seed, (description, q_shape, s, dtype) in enumerate(specs):
        q = _normal(seed, *q_shape, dtype=dtype)
        k = _normal(seed + 10, *q_shape[:-2], s, q_shape[-1], dtype=dtype)
        v = _normal(seed + 20, *q_shape[:-2], s, 3, dtype=dtype)
        mask = na.causal_mask(q_shape[-2], s)

        def pytorch(q=q, k=k, v=v, mask=mask):
            tensors = (torch.from_numpy(a) for a in (q, k, v))
            return _np(
                F.scaled_dot_product_attention(
                    *tensors, attn_mask=torch.from_numpy(mask)
                )
            )

        cases.append(
            Case(
                description,
                (q, k, v),
                {
                    PACKAGE: lambda q=q, k=k, v=v, mask=mask: (
                        na.scaled_dot_product_attention(q, k, v, mask)[0]
                    ),
                    "F.scaled_dot_product_attention with the causal mask": pytorch,
                },
            )
        )
    return cases


def _top_k_cases() -> list[Case]:
    torch, _ = _torch()

    def pytorch(logits, k):
        tensor = torch.from_numpy(logits)
        values, indices = tensor.topk(k, dim=-1)
        kept = torch.full_like(tensor, float("-inf")).scatter(-1, indices, values)
        return _np(torch.softmax(kept, dim=-1))

    specs = [
        ("logits (6,), k=2", _normal(1, 6), 2),
        ("logits (2, 3, 10), k=3", _normal(2, 2, 3, 10), 3),
        ("k=1 (greedy): logits (4, 8)", _normal(3, 4, 8), 1),
        ("k=V keeps all: logits (3, 5), k=5", _normal(4, 3, 5), 5),
        ("float32: logits (2, 50), k=10", _normal(5, 2, 50, dtype=np.float32), 10),
        ("large logits (× 500): (3, 7), k=3", _normal(6, 3, 7, scale=500.0), 3),
    ]
    return [
        Case(
            description,
            (logits, k),
            {
                PACKAGE: lambda logits=logits, k=k: nd.next_token_probabilities(
                    logits, top_k=k
                ),
                "torch.topk then torch.softmax": lambda logits=logits, k=k: pytorch(
                    logits, k
                ),
            },
        )
        for description, logits, k in specs
    ]


CAUSAL = [
    Exercise(
        "causal-self-attention/causal-mask",
        "implement",
        "A causal mask that works with a cache",
        "causal_mask",
        ("query_length", "key_length"),
        _causal_mask_cases,
        (
            Mistake(
                "the mask is transposed: it lets each position see the future, not the past",
                "Row t (a query) must allow columns 0…t: the lower triangle, np.tril, not np.triu.",
                wrong.causal_mask_transposed,
            ),
            Mistake(
                "the diagonal is masked: a position cannot attend to itself",
                "Keep the diagonal: query t may attend to key t.",
                wrong.causal_mask_without_diagonal,
            ),
            Mistake(
                "the queries are aligned with the first keys, not the last",
                "With S > T keys, the T queries are the last T positions (S - T are cached): shift the diagonal"
                " by S - T (np.tril(..., k=S - T)).",
                wrong.causal_mask_aligned_to_start,
            ),
        ),
    ),
    Exercise(
        "causal-self-attention/top-k",
        "implement",
        "Top-k sampling probabilities",
        "top_k_probabilities",
        ("logits", "k"),
        _top_k_cases,
        (
            Mistake(
                "this keeps the k smallest logits",
                "Keep the k largest: compare with the k-th largest value, np.sort(logits)[..., -k].",
                wrong.top_k_keeping_smallest,
            ),
            Mistake(
                "the dropped logits are set to 0, so they keep some probability",
                "A dropped token must get probability exactly 0: give it a logit of -inf, or mask it in the softmax.",
                wrong.top_k_with_zero_logits,
            ),
            Mistake(
                "the kept probabilities are not renormalised",
                "After zeroing the dropped tokens the row sums to less than 1: take the softmax over the kept"
                " logits only.",
                wrong.top_k_not_renormalised,
            ),
        ),
    ),
    Exercise(
        "causal-self-attention/mask-after-softmax",
        "bug",
        "Weights that no longer sum to one",
        "causal_attention",
        ("query", "key", "value"),
        _causal_attention_cases,
        (
            Mistake(
                "the mask is applied after the softmax, so the rows no longer sum to 1",
                "Mask the scores before the softmax (fill the future with -inf or leave it out of the softmax).",
                wrong.causal_attention_masked_after_softmax,
            ),
            Mistake(
                "the mask is transposed: each position reads the future",
                "Row t (a query) must allow columns 0…t.",
                wrong.causal_attention_with_transposed_mask,
            ),
        ),
    ),
    Exercise(
        "causal-self-attention/predict-first-row",
        "predict",
        "What the first position attends to",
        answer=lambda: na.scaled_dot_product_attention(
            _normal(9, 4, 8), _normal(10, 4, 8), _normal(11, 4, 8), na.causal_mask(4)
        )[1][0].tolist(),
        answer_hint="a list of four numbers",
        atol=1e-3,
    ),
]


# --- encoder-only models ---------------------------------------------------------------------------------------


def _mean_pool_cases() -> list[Case]:
    specs = [
        (
            "one sequence of 3 tokens, 1 of them padding",
            np.arange(6.0).reshape(1, 3, 2),
            np.array([[5, 7, 0]]),
            0,
        ),
        (
            "B=3, T=5, D=4, different lengths",
            _normal(1, 3, 5, 4),
            np.array([[4, 5, 6, 0, 0], [7, 0, 0, 0, 0], [1, 2, 3, 4, 5]]),
            0,
        ),
        (
            "no padding at all: (2, 4, 3)",
            _normal(2, 2, 4, 3),
            np.array([[1, 2, 3, 4], [5, 6, 7, 8]]),
            0,
        ),
        (
            "pad_id=1: (2, 3, 4)",
            _normal(3, 2, 3, 4),
            np.array([[0, 4, 1], [5, 1, 1]]),
            1,
        ),
        ("T=1: (2, 1, 5)", _normal(4, 2, 1, 5), np.array([[3], [9]]), 0),
        (
            "float32: (2, 6, 8)",
            _normal(5, 2, 6, 8, dtype=np.float32),
            np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 0]]),
            0,
        ),
    ]
    return [
        Case(d, (h, t, p), {PACKAGE: lambda h=h, t=t, p=p: ne.mean_pool(h, t, p)})
        for d, h, t, p in specs
    ]


def _gelu_cases() -> list[Case]:
    torch, F = _torch()
    specs = [
        ("x = -4, -3, …, 4", np.arange(-4.0, 5.0)),
        ("x (2, 3, 4)", _normal(1, 2, 3, 4)),
        ("float32: x (5, 6)", _normal(2, 5, 6, dtype=np.float32)),
        ("large |x|: ±20", np.array([-20.0, -10.0, 10.0, 20.0])),
        ("zeros (3,)", np.zeros(3)),
    ]
    return [
        Case(
            description,
            (x,),
            {
                PACKAGE: lambda x=x: nl.gelu(x),
                "F.gelu (approximate='none')": lambda x=x: _np(
                    F.gelu(torch.from_numpy(x))
                ),
            },
        )
        for description, x in specs
    ]


ENCODER = [
    Exercise(
        "encoder-only-models/mean-pool",
        "implement",
        "Mean pooling over the real tokens",
        "mean_pool",
        ("hidden", "tokens", "pad_id"),
        _mean_pool_cases,
        (
            Mistake(
                "the padding is averaged in",
                "Multiply by a 0/1 mask of the real tokens and divide by their number, not by T.",
                wrong.mean_pool_over_padding,
            ),
            Mistake(
                "the vectors are summed, not averaged",
                "Divide the sum by the number of real tokens of each sequence.",
                wrong.sum_pool,
            ),
        ),
    ),
    Exercise(
        "encoder-only-models/tanh-gelu",
        "bug",
        "A GELU that is close, but not the checkpoint's",
        "gelu",
        ("x",),
        _gelu_cases,
        (
            Mistake(
                "this is the tanh approximation of GELU",
                "BERT and all-MiniLM-L6-v2 use the exact form x·Φ(x), with Φ(x) = (1 + erf(x / √2)) / 2; the"
                " approximation differs by up to about 5e-4.",
                wrong.gelu_tanh,
            ),
            Mistake(
                "this is the sigmoid approximation x·σ(1.702x)",
                "Use the exact form x·Φ(x), with Φ(x) = (1 + erf(x / √2)) / 2.",
                wrong.gelu_sigmoid,
            ),
        ),
        rtol=1e-7,
        atol=1e-9,
    ),
    Exercise(
        "encoder-only-models/predict-padding-mask",
        "predict",
        "The shape of a padding mask",
        answer=lambda: (
            na.padding_mask(np.array([[5, 7, 0, 0], [3, 0, 0, 0]]), pad_id=0).shape
        ),
        answer_hint="a tuple of ints",
    ),
]


# --- vision transformers ---------------------------------------------------------------------------------------


def _patchify_cases() -> list[Case]:
    torch, F = _torch()
    specs = [
        (
            "one 4 × 4 image numbered 0…15, patch_size=2",
            np.arange(16.0).reshape(1, 1, 4, 4),
            2,
        ),
        ("B=2, C=3, 8 × 8, patch_size=4", _normal(1, 2, 3, 8, 8), 4),
        ("not square: C=2, 4 × 6, patch_size=2", _normal(2, 1, 2, 4, 6), 2),
        ("patch_size=1: every pixel a patch", _normal(3, 2, 3, 3, 3), 1),
        ("patch_size = the image: one patch", _normal(4, 2, 1, 4, 4), 4),
        (
            "float32, B=3, C=1, 8 × 8, patch_size=2",
            _normal(5, 3, 1, 8, 8, dtype=np.float32),
            2,
        ),
    ]
    return [
        Case(
            description,
            (images, p),
            {
                PACKAGE: lambda images=images, p=p: nv.patchify(images, p),
                "F.unfold (nn.Unfold)": lambda images=images, p=p: _np(
                    F.unfold(torch.from_numpy(images), p, stride=p).transpose(1, 2)
                ),
            },
        )
        for description, images, p in specs
    ]


PATCHIFY_MISTAKES = (
    Mistake(
        "a plain reshape: each 'patch' is a strip of pixels, not a P × P square",
        "Reshape to (B, C, H / P, P, W / P, P), move the two patch-grid axes in front of C, then flatten.",
        wrong.patchify_by_reshape,
    ),
    Mistake(
        "the patches are numbered column by column",
        "Number them row by row, left to right: the patch-row axis before the patch-column axis.",
        wrong.patchify_column_major,
    ),
    Mistake(
        "each patch is flattened with the channel last",
        "Flatten channel first, then pixel row, then pixel column, the order of a Conv2d weight (and of F.unfold).",
        wrong.patchify_channels_last,
    ),
)

VISION = [
    Exercise(
        "vision-transformers/patchify",
        "implement",
        "Cut images into patches",
        "patchify",
        ("images", "patch_size"),
        _patchify_cases,
        PATCHIFY_MISTAKES,
    ),
    Exercise(
        "vision-transformers/patch-strips",
        "bug",
        "Patches that are not square",
        "patchify",
        ("images", "patch_size"),
        _patchify_cases,
        PATCHIFY_MISTAKES,
    ),
    Exercise(
        "vision-transformers/predict-sequence-length",
        "predict",
        "How many tokens an image becomes",
        answer=lambda: nv.patchify(np.zeros((1, 1, 28, 28)), 7).shape[1] + 1,
        answer_hint="an int",
    ),
]


# --- attention in today's models -------------------------------------------------------------------------------


def _grouped_cases() -> list[Case]:
    torch, F = _torch()
    causal = na.causal_mask(6)
    padding = np.ones((2, 1, 1, 7), dtype=bool)
    padding[1, ..., 4:] = False  # the second sequence has 4 real keys
    specs = [
        ("H=4, G=2, T=S=5, d=8, no mask", 1, (2, 4, 5, 8), (2, 2, 5, 8), 8, None, np.float64),
        ("H=8, G=2, T=S=6, causal mask (6, 6)", 2, (1, 8, 6, 4), (1, 2, 6, 4), 4, causal, np.float64),
        ("H=6, G=3, T=3, S=7, d_v=5, padding mask (2, 1, 1, 7)", 3, (2, 6, 3, 4), (2, 3, 7, 4), 5, padding, np.float64),
        ("multi-query: H=4, G=1, T=S=5", 4, (2, 4, 5, 8), (2, 1, 5, 8), 8, None, np.float64),
        ("multi-head: H=G=4, T=S=5", 5, (2, 4, 5, 8), (2, 4, 5, 8), 8, None, np.float64),
        ("H=4, G=2, T=3, S=4, row 1 fully masked (must give zeros)", 6, (1, 4, 3, 4), (1, 2, 4, 4), 4,
         _with_mask((3, 4), 7, 1), np.float64),
        ("T=1, S=1: H=8, G=4", 7, (2, 8, 1, 8), (2, 4, 1, 8), 8, None, np.float64),
        ("float32: H=8, G=2, T=S=6, causal", 8, (2, 8, 6, 8), (2, 2, 6, 8), 8, causal, np.float32),
    ]  # fmt: skip
    cases = []
    for description, seed, q_shape, k_shape, d_v, mask, dtype in specs:
        q = _normal(seed, *q_shape, dtype=dtype)
        k = _normal(seed + 10, *k_shape, dtype=dtype)
        v = _normal(seed + 20, *k_shape[:-1], d_v, dtype=dtype)

        def pytorch(q=q, k=k, v=v, mask=mask):
            t_mask = (
                None if mask is None else torch.from_numpy(np.ascontiguousarray(mask))
            )
            tensors = (torch.from_numpy(a) for a in (q, k, v))
            return _np(
                F.scaled_dot_product_attention(
                    *tensors, attn_mask=t_mask, enable_gqa=True
                )
            )

        cases.append(
            Case(
                description,
                (q, k, v, mask),
                {
                    PACKAGE: lambda q=q, k=k, v=v, mask=mask: (
                        nm.grouped_query_attention(q, k, v, mask)[0]
                    ),
                    "F.scaled_dot_product_attention(enable_gqa=True)": pytorch,
                },
            )
        )
    return cases


def _nucleus_cases() -> list[Case]:
    def probabilities(seed: int, *shape: int, dtype: type = np.float64) -> np.ndarray:
        return na.softmax(_normal(seed, *shape, scale=2.0)).astype(dtype)

    specs = [
        (
            "probabilities [0.5, 0.2, 0.15, 0.1, 0.05], top_p=0.6",
            np.array([0.5, 0.2, 0.15, 0.1, 0.05]),
            0.6,
        ),
        (
            "one token above top_p: [0.1, 0.7, 0.2], top_p=0.5",
            np.array([0.1, 0.7, 0.2]),
            0.5,
        ),
        ("(2, 3, 10), top_p=0.9", probabilities(1, 2, 3, 10), 0.9),
        ("(4, 8), top_p=0.3", probabilities(2, 4, 8), 0.3),
        ("(3, 6), top_p=1.0 keeps every token", probabilities(3, 3, 6), 1.0),
        (
            "float32: (2, 50), top_p=0.95",
            probabilities(4, 2, 50, dtype=np.float32),
            0.95,
        ),
    ]
    return [
        Case(d, (p, top_p), {PACKAGE: lambda p=p, t=top_p: ns.nucleus_mask(p, t)})
        for d, p, top_p in specs
    ]


def _online_cases() -> list[Case]:
    torch, F = _torch()
    specs = [
        ("one block: T=4, S=6, d=4, block_size=8", 1, (4, 4), 6, 8, np.float64, 1.0),
        ("T=4, S=8, d=4, block_size=2", 2, (4, 4), 8, 2, np.float64, 1.0),
        (
            "B=2, H=2, T=5, S=12, d=8, block_size=4",
            3,
            (2, 2, 5, 8),
            12,
            4,
            np.float64,
            1.0,
        ),
        ("block_size=1: one key at a time, S=7", 4, (3, 4), 7, 1, np.float64, 1.0),
        (
            "a partial last block: S=10, block_size=4",
            5,
            (2, 6, 8),
            10,
            4,
            np.float64,
            1.0,
        ),
        (
            "large scores (q, k × 10): S=9, block_size=3",
            6,
            (4, 8),
            9,
            3,
            np.float64,
            10.0,
        ),
        (
            "float32: B=2, T=6, S=16, d=8, block_size=5",
            7,
            (2, 6, 8),
            16,
            5,
            np.float32,
            1.0,
        ),
    ]
    cases = []
    for description, seed, q_shape, s, block, dtype, scale in specs:
        q = _normal(seed, *q_shape, dtype=dtype, scale=scale)
        k = _normal(seed + 10, *q_shape[:-2], s, q_shape[-1], dtype=dtype, scale=scale)
        v = _normal(seed + 20, *q_shape[:-2], s, 3, dtype=dtype)

        def pytorch(q=q, k=k, v=v):
            return _np(
                F.scaled_dot_product_attention(
                    *(torch.from_numpy(a) for a in (q, k, v))
                )
            )

        cases.append(
            Case(
                description,
                (q, k, v, block),
                {
                    PACKAGE: lambda q=q, k=k, v=v, b=block: nm.tiled_attention(
                        q, k, v, block_size=b
                    ),
                    "F.scaled_dot_product_attention": pytorch,
                },
            )
        )
    return cases


def _cache_bytes_per_token() -> int:
    """The bytes of keys and values a 6-layer LLaMA-style decoder caches per token (H=8, G=2, d=32, float32)."""
    torch, _ = _torch()
    from transformer_tutorial.numpy.llama import LlamaConfig
    from transformer_tutorial.torch.llama import LlamaDecoder

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=100, d_model=256, num_heads=8, num_kv_heads=2, num_layers=6
    )
    model = LlamaDecoder(config).eval()
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.zeros(1, 10, dtype=torch.long), cache)
    return sum(layer.keys.nbytes + layer.values.nbytes for layer in cache) // 10


MODERN = [
    Exercise(
        "modern-attention/grouped-query-attention",
        "implement",
        "Grouped-query attention",
        "grouped_query_attention",
        ("query", "key", "value", "mask"),
        _grouped_cases,
        (
            Mistake(
                "query head h reads key/value head h % G, not h // (H / G)",
                "np.tile (torch's .repeat) lays the key/value heads out as 0, 1, 0, 1, …; a group is H / G"
                " consecutive query heads, so each key/value head must be repeated in place: np.repeat(key,"
                " H // G, axis=1), or torch.repeat_interleave.",
                wrong.grouped_query_attention_tiled_heads,
            ),
            Mistake(
                "the scores are not divided by √d",
                "Divide Q Kᵀ by the square root of one head's width d before the softmax.",
                wrong.grouped_query_attention_without_scaling,
            ),
        ),
    ),
    Exercise(
        "modern-attention/top-p-crossing",
        "bug",
        "A nucleus that stops one token short",
        "nucleus_mask",
        ("probabilities", "top_p"),
        _nucleus_cases,
        (
            Mistake(
                "the token that crosses top_p is dropped",
                "Keep a token while the tokens ranked above it add up to less than top_p: compare the"
                " cumulative sum before the token, np.cumsum(ranked) - ranked, not the one that includes it."
                " Otherwise the set can fall short of top_p, or be empty when one token alone exceeds it.",
                wrong.nucleus_mask_dropping_crossing,
            ),
            Mistake(
                "the cumulative sum runs in the vocabulary's order, not from the most probable token down",
                "Sort the probabilities in decreasing order first, and put the decisions back in the"
                " vocabulary's order afterwards.",
                wrong.nucleus_mask_in_vocabulary_order,
            ),
            Mistake(
                "the least probable tokens are kept",
                "Rank from the most probable token down: np.argsort(-probabilities).",
                wrong.nucleus_mask_least_probable_first,
            ),
        ),
    ),
    Exercise(
        "modern-attention/online-softmax-sum",
        "bug",
        "An online softmax that forgets its past",
        "online_attention",
        ("query", "key", "value", "block_size"),
        _online_cases,
        (
            Mistake(
                "the running sum is not rescaled when the maximum grows",
                "When a block raises the maximum from m to m', the terms already in the running sum were"
                " computed with m and are too large by exp(m' - m): multiply the sum by exp(m - m'), as the"
                " output is, before adding the block's terms.",
                wrong.online_attention_sum_not_rescaled,
            ),
            Mistake(
                "the running output is not rescaled when the maximum grows",
                "Multiply the accumulated output by exp(m - m') before adding the block's weighted values, as"
                " the running sum is.",
                wrong.online_attention_output_not_rescaled,
            ),
            Mistake(
                "the rescaling factor is inverted: exp(m' - m) instead of exp(m - m')",
                "The old terms are too large by exp(m' - m), so they are multiplied by its inverse; with m = -inf"
                " at the start, the inverted factor is inf and 0 · inf gives NaN.",
                wrong.online_attention_inverted_rescale,
            ),
        ),
    ),
    Exercise(
        "modern-attention/predict-cache-bytes",
        "predict",
        "The cache of one token",
        answer=_cache_bytes_per_token,
        answer_hint="an int (bytes)",
    ),
]

# The chapters in the order of the site, with the page that holds their exercises.
CHAPTERS: dict[str, tuple[str, list[Exercise]]] = {
    "attention": ("attention.md", ATTENTION),
    "multi-head": ("multi-head-attention.md", MULTI_HEAD),
    "positional-encodings": ("positional-encodings.md", POSITIONAL),
    "architecture": ("architecture.md", ARCHITECTURE),
    "training": ("training.md", TRAINING),
    "causal-self-attention": ("causal-self-attention.md", CAUSAL),
    "modern-attention": ("modern-blocks.md", MODERN),
    "encoder-only-models": ("encoder-only-models.md", ENCODER),
    "vision-transformers": ("vision-transformers.md", VISION),
}

EXERCISES: dict[str, Exercise] = {
    exercise.id: exercise for _, (_, group) in CHAPTERS.items() for exercise in group
}

__all__ = ["CHAPTERS", "EXERCISES", "quietly"]
