"""The reversal model that runs in the reader's browser: trained once with PyTorch, stored
as a small JSON file, run by the NumPy backend here and by the site's JavaScript there.

The stored result ``reversal-model`` (``transformer_tutorial.results.load("reversal-model")``, package data) holds the
task, the model's sizes, how it was trained and how well it reverses held-out sequences, and every weight as
little-endian float32, base64-encoded, under the names of the NumPy backend's parameters
(``encoder.0.self_attention.w_q``, …). Both readers compute in float64 from those same float32 numbers, so they can
agree to rounding error.

``python -m transformer_tutorial.experiments.live_model --store`` trains the model again and stores it. Shapes use B
(batch), S (source positions), T (target positions), D (model width), H (heads), L (layers) and V (vocabulary size).
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass, replace

import numpy as np

from transformer_tutorial import results as stored
from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.data.tasks import BOS, EOS, FIRST_SYMBOL, PAD, ReversalTask
from transformer_tutorial.experiments import add_destination, keep, provenance
from transformer_tutorial.numpy.attention import (
    MultiHeadAttentionParams,
    multi_head_attention,
    softmax,
)
from transformer_tutorial.numpy.layers import (
    DecoderLayerParams,
    EncoderLayerParams,
    FeedForwardParams,
    LayerNormParams,
    add_and_norm,
    decoder_layer,
)
from transformer_tutorial.numpy.masks import causal_mask, padding_mask
from transformer_tutorial.numpy.model import TransformerParams, embed, encode

RESULT_NAME = "reversal-model"
COMMAND = "python -m transformer_tutorial.experiments.live_model --store"


def encode_array(array: np.ndarray) -> dict:
    """An array as JSON: its shape, and its values
    as little-endian float32 bytes in base64."""
    data = np.ascontiguousarray(array, dtype="<f4").tobytes()
    return {
        "shape": list(array.shape),
        "float32": base64.b64encode(data).decode("ascii"),
    }


def decode_array(entry: dict) -> np.ndarray:
    """The inverse of ``encode_array``, as float64."""
    data = np.frombuffer(base64.b64decode(entry["float32"]), dtype="<f4")
    return data.reshape(entry["shape"]).astype(np.float64)


def flat_params(params: TransformerParams) -> dict[str, np.ndarray]:
    """Every array of ``params`` under a dotted name: ``embedding`` (one
    table, shared by the source, the target and the output layer), then
    ``encoder.0.self_attention.w_q``, …, ``decoder.1.norm_3.bias``."""
    if not params.config.share_embeddings:
        raise ValueError(
            "the browser model reads one embedding table: share_embeddings must be True"
        )
    arrays = {"embedding": params.src_embedding}
    for side, layers in (
        ("encoder", params.encoder_layers),
        ("decoder", params.decoder_layers),
    ):
        for i, layer in enumerate(layers):
            for part in dataclasses.fields(layer):
                for name, value in dataclasses.asdict(
                    getattr(layer, part.name)
                ).items():
                    if isinstance(value, np.ndarray):
                        arrays[f"{side}.{i}.{part.name}.{name}"] = value
    return arrays


def params_from_flat(
    arrays: dict[str, np.ndarray], config: TransformerConfig
) -> TransformerParams:
    """``TransformerParams`` from the names of ``flat_params``."""

    def attention(prefix: str) -> MultiHeadAttentionParams:
        names = ("w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o")
        return MultiHeadAttentionParams(
            *(arrays[f"{prefix}.{n}"] for n in names), num_heads=config.num_heads
        )

    def norm(prefix: str) -> LayerNormParams:
        return LayerNormParams(
            arrays[f"{prefix}.weight"], arrays[f"{prefix}.bias"], config.eps
        )

    def feed_forward(prefix: str) -> FeedForwardParams:
        return FeedForwardParams(
            *(arrays[f"{prefix}.{n}"] for n in ("w_1", "b_1", "w_2", "b_2"))
        )

    encoder_layers = [
        EncoderLayerParams(
            attention(f"encoder.{i}.self_attention"),
            feed_forward(f"encoder.{i}.feed_forward"),
            norm(f"encoder.{i}.norm_1"),
            norm(f"encoder.{i}.norm_2"),
        )
        for i in range(config.num_layers)
    ]
    decoder_layers = [
        DecoderLayerParams(
            attention(f"decoder.{i}.self_attention"),
            attention(f"decoder.{i}.cross_attention"),
            feed_forward(f"decoder.{i}.feed_forward"),
            norm(f"decoder.{i}.norm_1"),
            norm(f"decoder.{i}.norm_2"),
            norm(f"decoder.{i}.norm_3"),
        )
        for i in range(config.num_layers)
    ]
    table = arrays["embedding"]
    return TransformerParams(
        config, table, table, table.T, encoder_layers, decoder_layers, None, None
    )


@dataclass(frozen=True)
class LiveModel:
    """The stored model: its weights for the NumPy
    backend, its task, and what the file says about it."""

    params: TransformerParams
    task: ReversalTask
    info: dict


def load_live_model(data: dict | None = None) -> LiveModel:
    """The model stored in the package (or the one in ``data``,
    a result of ``main``), read into NumPy parameters."""
    data = stored.load(RESULT_NAME) if data is None else data
    config = TransformerConfig(**data["config"])
    if config.norm_first:
        raise ValueError(
            "the browser model is post-norm; this file holds a pre-norm model"
        )
    arrays = {name: decode_array(entry) for name, entry in data["tensors"].items()}
    info = {key: value for key, value in data.items() if key != "tensors"}
    return LiveModel(
        params_from_flat(arrays, config), ReversalTask(**data["task"]), info
    )


# --8<-- [start:cross_attention]
def decode_with_cross_attention(
    tgt: np.ndarray, memory: np.ndarray, src_mask: np.ndarray, params: TransformerParams
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``numpy.model.decode``, also returning every decoder
    layer's cross-attention weights, (B, H, T, S) each.

    Post-norm: the cross-attention reads the output of the layer's first Add & Norm, so that is computed and the
    attention asked again; ``decoder_layer`` itself computes the layer's output.
    """
    config = params.config
    tgt_mask = padding_mask(tgt, config.pad_id) & causal_mask(tgt.shape[1])  # (B, T, T)
    y = embed(tgt, params.tgt_embedding, config, "tgt")
    weights = []
    for layer in params.decoder_layers:

        def self_attention(h: np.ndarray, sub: DecoderLayerParams = layer):
            return multi_head_attention(h, h, h, sub.self_attention, tgt_mask)[0]

        after_self = add_and_norm(y, self_attention, layer.norm_1)
        cross = layer.cross_attention
        _, attended = multi_head_attention(after_self, memory, memory, cross, src_mask)
        weights.append(attended)
        y = decoder_layer(y, memory, layer, tgt_mask, src_mask)
    return y, weights


# --8<-- [end:cross_attention]


@dataclass(frozen=True)
class Generation:
    """What greedy decoding produced for a batch: ``tokens`` (B, T)
    without the leading BOS, PAD after each EOS; ``probabilities`` (B, T,
    V), the next-token distribution at every step; ``cross_attention``
    (B, L, H, T, S), where the query of step t looked in the source."""

    tokens: np.ndarray
    probabilities: np.ndarray
    cross_attention: np.ndarray


# --8<-- [start:greedy]
def greedy_generate(
    src: np.ndarray,
    params: TransformerParams,
    max_new_tokens: int,
) -> Generation:
    """Greedy decoding with the NumPy backend: at every step, run the
    decoder over the whole prefix and append the most probable next
    token, until every sequence has produced EOS. src: (B, S) ids."""
    if params.config.norm_first:
        raise ValueError("decode_with_cross_attention computes a post-norm model")
    memory, src_mask = encode(src, params)
    generated = np.full((src.shape[0], 1), BOS)
    finished = np.zeros(src.shape[0], dtype=bool)
    steps = []
    for _ in range(max_new_tokens):
        hidden, _ = decode_with_cross_attention(generated, memory, src_mask, params)
        logits = hidden[:, -1] @ params.output_weight
        probabilities = softmax(logits)  # (B, V): the next token
        chosen = np.where(finished, PAD, probabilities.argmax(axis=-1))
        steps.append(probabilities)
        generated = np.concatenate([generated, chosen[:, None]], axis=1)
        finished |= chosen == EOS
        if finished.all():
            break
    # The decoder is causal, so a pass over the final prefix repeats every step's
    # cross-attention row.
    prefix = generated[:, :-1]
    _, weights = decode_with_cross_attention(prefix, memory, src_mask, params)
    tokens = generated[:, 1:]
    return Generation(tokens, np.stack(steps, axis=1), np.stack(weights, axis=1))


# --8<-- [end:greedy]


HELD_OUT_SEED = (
    12345  # the generator of the held-out sequences the stored score is measured on
)


def exact_match(model: LiveModel, num_sequences: int, seed: int) -> float:
    """The share of ``num_sequences`` distinct held-out sequences
    (``held_out_batch``, which the training stream never produces)
    that the NumPy backend reverses exactly, EOS included."""
    batch = model.task.held_out_batch(np.random.default_rng(seed), num_sequences)
    tokens = greedy_generate(batch.src, model.params, batch.tgt_out.shape[1]).tokens
    width = batch.tgt_out.shape[1]
    padded = np.full((num_sequences, width), PAD)
    padded[:, : min(width, tokens.shape[1])] = tokens[:, :width]
    return float((padded == batch.tgt_out).all(axis=1).mean())


def live_recipe():
    """The training chapter's recipe with a smaller model (D =
    32, d_ff = 128, so that the file is small), 600 steps instead
    of 400 and a learning-rate factor of 0.5 instead of 0.3."""
    from transformer_tutorial.torch.training import ReversalRecipe

    return replace(ReversalRecipe(), d_model=32, d_ff=128, steps=600, lr_factor=0.5)


def main(argv: list[str] | None = None) -> dict:
    """Train the browser's reversal model with PyTorch and
    store it, with its held-out accuracy, as package data."""
    import argparse

    import torch

    from transformer_tutorial.torch.training import train_reversal

    parser = argparse.ArgumentParser(description=main.__doc__)
    add_destination(parser, RESULT_NAME)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    recipe = live_recipe()
    model, log = train_reversal(recipe, progress=False)
    params = model.numpy_params()
    data = {
        "task": dataclasses.asdict(recipe.task),
        "config": dataclasses.asdict(recipe.config()),
        "symbols": [chr(ord("a") + i) for i in range(recipe.task.num_symbols)],
        "ids": {"pad": PAD, "bos": BOS, "eos": EOS, "first_symbol": FIRST_SYMBOL},
        "training": {
            "steps": recipe.steps,
            "batch_size": recipe.batch_size,
            "warmup": recipe.warmup,
            "lr_factor": recipe.lr_factor,
            "seed": recipe.seed,
            "seconds": round(log.seconds, 1),
            "final_loss": round(float(np.mean(log.losses[-20:])), 4),
            "torch": torch.__version__,
        },
        **provenance(COMMAND),
        "tensors": {
            name: encode_array(array) for name, array in flat_params(params).items()
        },
    }
    # measured on the stored float32 weights, by the NumPy backend
    held_out = exact_match(load_live_model(data), 1000, seed=HELD_OUT_SEED)
    data["held_out"] = {
        "sequences": 1000,
        "drawn_by": "ReversalTask.held_out_batch",
        "seed": HELD_OUT_SEED,
        "exact_match": held_out,
    }
    print(
        json.dumps(
            {key: value for key, value in data.items() if key != "tensors"}, indent=1
        )
    )
    keep(args, RESULT_NAME, data)
    return data


if __name__ == "__main__":
    main()
