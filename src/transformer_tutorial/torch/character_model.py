"""The character model that writes, in PyTorch: its stored weights as a ``DecoderOnly``, and text sampled from it.

The model is the causal chapter's ``DecoderOnly``, trained for minutes on the site's corpus by ``python -m
transformer_tutorial.experiments.character_model --store``, and shipped with the package as the checkpoint
``character-model`` (float16 weights, read as float32). ``sample_text`` draws from it with temperature, top-k and top-p
(nucleus) sampling.

Shapes use D (model width), F (feed-forward width) and V (vocabulary size).
"""

from __future__ import annotations

import torch

from transformer_tutorial.checks import check_positive_int
from transformer_tutorial.config import DecoderOnlyConfig
from transformer_tutorial.data.checkpoints import read_checkpoint
from transformer_tutorial.data.text import CharTokenizer
from transformer_tutorial.numpy.character_model import CHECKPOINT, params_from_flat
from transformer_tutorial.numpy.decoder_only import DecoderOnlyParams
from transformer_tutorial.torch.decoder_only import DecoderOnly, sample_from
from transformer_tutorial.torch.sampling import nucleus_probabilities


@torch.no_grad()
def decoder_only_from_params(params: DecoderOnlyParams) -> DecoderOnly:
    """A ``DecoderOnly`` holding the weights of NumPy
    ``params`` (the inverse of ``numpy_params``), in eval mode."""
    model = DecoderOnly(params.config)

    def copy(target: torch.Tensor, source) -> None:
        target.copy_(torch.as_tensor(source, dtype=target.dtype))

    copy(model.token_embedding.weight, params.token_embedding)
    copy(model.positions.table.weight, params.position_embedding)
    for layer, stored in zip(model.layers, params.layers, strict=True):
        attention, saved = layer.self_attention, stored.self_attention
        for proj, w, b in (
            (attention.q_proj, saved.w_q, saved.b_q),
            (attention.k_proj, saved.w_k, saved.b_k),
            (attention.v_proj, saved.w_v, saved.b_v),
            (attention.out_proj, saved.w_o, saved.b_o),
        ):
            copy(proj.weight, w.T)  # nn.Linear keeps W transposed: x @ weight.T
            copy(proj.bias, b)
        feed_forward = layer.feed_forward
        copy(feed_forward.linear_1.weight, stored.feed_forward.w_1.T)
        copy(feed_forward.linear_1.bias, stored.feed_forward.b_1)
        copy(feed_forward.linear_2.weight, stored.feed_forward.w_2.T)
        copy(feed_forward.linear_2.bias, stored.feed_forward.b_2)
        for norm, saved_norm in (
            (layer.add_norm_1.norm, stored.norm_1),
            (layer.add_norm_2.norm, stored.norm_2),
        ):
            copy(norm.weight, saved_norm.weight)
            copy(norm.bias, saved_norm.bias)
    copy(model.final_norm.weight, params.final_norm.weight)
    copy(model.final_norm.bias, params.final_norm.bias)
    return model.eval()


def load_character_model() -> tuple[DecoderOnly, CharTokenizer]:
    """The stored character model and its tokenizer:
    ``(model, tokenizer)``, the model in eval mode."""
    metadata, arrays = read_checkpoint(CHECKPOINT)
    config = DecoderOnlyConfig(**metadata["config"])
    model = decoder_only_from_params(params_from_flat(config, arrays))
    return model, CharTokenizer(metadata["vocabulary"])


# --8<-- [start:sample_text]
@torch.no_grad()
def sample_text(
    model: DecoderOnly,
    tokenizer: CharTokenizer,
    prompt: str,
    length: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
) -> str:
    """The prompt followed by ``length`` characters drawn one at a time.

    Each draw keeps the top k logits, divides by the temperature, then keeps the smallest set of characters whose
    probabilities reach ``top_p``.
    """
    check_positive_int("length", length)
    was_training = model.training
    model.eval()  # no dropout while writing
    device = model.token_embedding.weight.device  # sample where the model lives
    tokens = torch.from_numpy(tokenizer.encode(prompt))[None].to(device)  # (1, T0)
    for _ in range(length):
        window = tokens[:, -model.config.max_len :]  # the last max_len characters
        logits = model(window)[:, -1]  # (1, V)
        probabilities = nucleus_probabilities(logits, top_p, temperature, top_k)
        tokens = torch.cat([tokens, sample_from(probabilities, generator)[:, None]], 1)
    model.train(was_training)
    return tokenizer.decode(tokens[0].tolist())


# --8<-- [end:sample_text]
