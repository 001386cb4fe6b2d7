"""The LLaMA-style decoder in PyTorch: RMSNorm, the SwiGLU feed-forward
network, and pre-norm blocks with RoPE and grouped-query attention.

The block differs from the paper's decoder layer in four places: RMSNorm instead of LayerNorm, normalisation before each
sub-layer (pre-norm) instead of after the residual sum, a gated feed-forward network (SwiGLU) instead of
Linear-ReLU-Linear, and rotary position embeddings on the queries and keys instead of sinusoids added to the input; none
of its linear layers has a bias. ``numpy_params()`` gives the weights to ``transformer_tutorial.numpy.llama``.

Shapes use B (batch), T (positions), D (model width), F (feed-forward width) and V (vocabulary size).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from transformer_tutorial.checks import check_positive_int, check_tokens
from transformer_tutorial.config import LlamaConfig
from transformer_tutorial.numpy.llama import (
    LlamaBlockParams,
    LlamaDecoderParams,
    RMSNormParams,
    SwiGLUParams,
)
from transformer_tutorial.torch.attention import KeyValueCache, to_numpy
from transformer_tutorial.torch.layers import widened
from transformer_tutorial.torch.masks import causal_mask
from transformer_tutorial.torch.modern import GroupedQueryAttention
from transformer_tutorial.torch.qk_norm import QKNormAttention


# --8<-- [start:rms_norm]
class RMSNorm(nn.Module):
    """Divide each position's features by their root mean square, then scale them.

    (..., D) -> (..., D). Unlike LayerNorm, nothing is subtracted (no mean, no learned shift): x / √(mean(x²) + ε) ·
    weight.
    """

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        check_positive_int("d_model", d_model)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = widened(x)  # float16 cannot hold 300²: the statistics are taken in float32
        mean_square = h.square().mean(dim=-1, keepdim=True)
        return (h * torch.rsqrt(mean_square + self.eps) * self.weight).to(x.dtype)

    # --8<-- [end:rms_norm]

    def numpy_params(self) -> RMSNormParams:
        return RMSNormParams(to_numpy(self.weight), self.eps)


# --8<-- [start:swiglu]
class SwiGLU(nn.Module):
    """The gated feed-forward network: (SiLU(x W_gate) ⊙ x W_up) W_down.

    (..., D) -> (..., D). One hidden layer decides, feature by feature, how much of the other passes: three D × F
    matrices where the paper's network has two.
    """

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.gate = nn.Linear(d_model, d_ff, bias=False)
        self.up = nn.Linear(d_model, d_ff, bias=False)
        self.down = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))

    # --8<-- [end:swiglu]

    def numpy_params(self) -> SwiGLUParams:
        return SwiGLUParams(
            to_numpy(self.gate.weight.T),
            to_numpy(self.up.weight.T),
            to_numpy(self.down.weight.T),
        )


# --8<-- [start:llama_block]
class LlamaBlock(nn.Module):
    """One pre-norm block: h = x +
    Attention(RMSNorm(x)), then h + SwiGLU(RMSNorm(h)).

    (B, T, D) -> (B, T, D). The attention is grouped-query self-attention with RoPE on its queries and keys.
    """

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        d_model = config.d_model
        self.attention_norm = RMSNorm(d_model, config.eps)
        if config.qk_norm:  # RMSNorm on each head's queries and keys, before RoPE
            self.attention = QKNormAttention(
                d_model, config.num_heads, config.num_kv_heads, config.eps
            )
        else:
            self.attention = GroupedQueryAttention(
                d_model,
                config.num_heads,
                config.num_kv_heads,
                bias=False,
                rope=True,
            )
        self.feed_forward_norm = RMSNorm(d_model, config.eps)
        self.feed_forward = SwiGLU(d_model, config.d_ff)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        cache: KeyValueCache | None = None,
    ) -> torch.Tensor:
        normed = self.attention_norm(x)
        attended, _ = self.attention(normed, normed, normed, mask, cache=cache)
        h = x + attended  # the residual path is never normalised
        return h + self.feed_forward(self.feed_forward_norm(h))

    # --8<-- [end:llama_block]

    def numpy_params(self) -> LlamaBlockParams:
        return LlamaBlockParams(
            self.attention_norm.numpy_params(),
            self.attention.numpy_params(),
            self.feed_forward_norm.numpy_params(),
            self.feed_forward.numpy_params(),
            getattr(self.attention, "qk_norm_params", lambda: None)(),
        )


class LlamaDecoder(nn.Module):
    """A small LLaMA-style language model: token embedding, pre-norm
    blocks, a final RMSNorm, and an output layer that shares its
    weight with the embedding. Positions reach it only through RoPE.

    It has the interface of ``DecoderOnly`` (``forward(tokens, cache)``, ``new_cache()``, ``config.max_len``), so
    ``train_language_model``, ``evaluate_language_model`` and ``generate`` of
    ``transformer_tutorial.torch.decoder_only`` work with it too.
    """

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.blocks = nn.ModuleList(
            LlamaBlock(config) for _ in range(config.num_layers)
        )
        self.final_norm = RMSNorm(config.d_model, config.eps)
        self.output = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.output.weight = self.token_embedding.weight  # weight tying

    def forward(
        self, tokens: torch.Tensor, cache: list[KeyValueCache] | None = None
    ) -> torch.Tensor:
        """Token ids (B, T) -> logits (B, T, V). With a
        ``cache``, ``tokens`` follow the cached positions."""
        start = 0 if cache is None else len(cache[0])
        length = tokens.shape[1]
        check_tokens("tokens", tokens, self.config.vocab_size, self.config.max_len)
        if start + length > self.config.max_len:
            raise ValueError(
                f"{length} new positions after the {start} cached ones are more than max_len={self.config.max_len}"
            )
        x = self.token_embedding(tokens)  # (B, T, D): no position added
        mask = causal_mask(length, start + length, device=tokens.device)
        for i, block in enumerate(self.blocks):
            x = block(x, mask, None if cache is None else cache[i])
        return self.output(self.final_norm(x))

    def new_cache(self) -> list[KeyValueCache]:
        """An empty key/value cache for every block: (B,
        G, S, d_k) keys and values each, once filled."""
        return [KeyValueCache() for _ in self.blocks]

    def numpy_params(self) -> LlamaDecoderParams:
        return LlamaDecoderParams(
            self.config,
            to_numpy(self.token_embedding.weight),
            [block.numpy_params() for block in self.blocks],
            self.final_norm.numpy_params(),
        )
