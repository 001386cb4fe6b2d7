"""The character model that writes, in NumPy: its stored weights as ``DecoderOnlyParams``, and text sampled from it.

The model is the causal chapter's ``decoder_only``, trained for minutes on the site's corpus by ``python -m
transformer_tutorial.experiments.character_model --store``, and shipped with the package as the checkpoint
``character-model`` (float16 weights, read as float32). ``sample_text`` draws from it with temperature, top-k and top-p
(nucleus) sampling.

Shapes use D (model width), F (feed-forward width) and V (vocabulary size).
"""

from __future__ import annotations

import numpy as np

from transformer_tutorial.checks import check_positive_int
from transformer_tutorial.config import DecoderOnlyConfig
from transformer_tutorial.data.checkpoints import read_checkpoint
from transformer_tutorial.data.text import CharTokenizer
from transformer_tutorial.numpy.attention import MultiHeadAttentionParams
from transformer_tutorial.numpy.decoder_only import (
    DecoderOnlyParams,
    decoder_only,
    sample_from,
)
from transformer_tutorial.numpy.layers import (
    EncoderLayerParams,
    FeedForwardParams,
    LayerNormParams,
)
from transformer_tutorial.numpy.sampling import nucleus_probabilities

CHECKPOINT = "character-model"
_ATTENTION = ("w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o")
_FEED_FORWARD = ("w_1", "b_1", "w_2", "b_2")


def flat_params(params: DecoderOnlyParams) -> dict[str, np.ndarray]:
    """Every weight under a flat name: ``token_embedding``,
    ``layers.0.self_attention.w_q``, ``final_norm.weight``."""
    flat = {
        "token_embedding": params.token_embedding,
        "position_embedding": params.position_embedding,
        "final_norm.weight": params.final_norm.weight,
        "final_norm.bias": params.final_norm.bias,
    }
    for i, layer in enumerate(params.layers):
        for name in _ATTENTION:
            flat[f"layers.{i}.self_attention.{name}"] = getattr(
                layer.self_attention, name
            )
        for name in _FEED_FORWARD:
            flat[f"layers.{i}.feed_forward.{name}"] = getattr(layer.feed_forward, name)
        for norm in ("norm_1", "norm_2"):
            for name in ("weight", "bias"):
                flat[f"layers.{i}.{norm}.{name}"] = getattr(getattr(layer, norm), name)
    return flat


def params_from_flat(
    config: DecoderOnlyConfig, flat: dict[str, np.ndarray]
) -> DecoderOnlyParams:
    """The inverse of ``flat_params``, in float64."""
    arrays = {key: np.asarray(value, dtype=np.float64) for key, value in flat.items()}

    def norm(prefix: str) -> LayerNormParams:
        return LayerNormParams(
            arrays[f"{prefix}.weight"], arrays[f"{prefix}.bias"], config.eps
        )

    layers = []
    for i in range(config.num_layers):
        prefix = f"layers.{i}"
        attention = [arrays[f"{prefix}.self_attention.{name}"] for name in _ATTENTION]
        feed_forward = [
            arrays[f"{prefix}.feed_forward.{name}"] for name in _FEED_FORWARD
        ]
        layers.append(
            EncoderLayerParams(
                MultiHeadAttentionParams(*attention, config.num_heads),
                FeedForwardParams(*feed_forward, activation="gelu"),
                norm(f"{prefix}.norm_1"),
                norm(f"{prefix}.norm_2"),
            )
        )
    return DecoderOnlyParams(
        config=config,
        token_embedding=arrays["token_embedding"],
        position_embedding=arrays["position_embedding"],
        layers=layers,
        final_norm=norm("final_norm"),
    )


def load_character_model() -> tuple[DecoderOnlyParams, CharTokenizer]:
    """The stored character model and its tokenizer: ``(params, tokenizer)``."""
    metadata, arrays = read_checkpoint(CHECKPOINT)
    config = DecoderOnlyConfig(**metadata["config"])
    return params_from_flat(config, arrays), CharTokenizer(metadata["vocabulary"])


# --8<-- [start:sample_text]
def sample_text(
    params: DecoderOnlyParams,
    tokenizer: CharTokenizer,
    prompt: str,
    length: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
) -> str:
    """The prompt followed by ``length`` characters drawn one at a time.

    Each draw keeps the top k logits, divides by the temperature, then keeps the smallest set of characters whose
    probabilities reach ``top_p``.
    """
    check_positive_int("length", length)
    tokens = tokenizer.encode(prompt)[None]  # (1, T0)
    for _ in range(length):
        window = tokens[:, -params.config.max_len :]  # the last max_len characters
        logits = decoder_only(window, params)[:, -1]  # (1, V)
        probabilities = nucleus_probabilities(logits, top_p, temperature, top_k)
        tokens = np.concatenate([tokens, sample_from(probabilities, rng)[:, None]], 1)
    return tokenizer.decode(tokens[0])


# --8<-- [end:sample_text]
