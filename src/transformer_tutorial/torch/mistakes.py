"""Deliberately wrong variants of the model, kept to measure what each mistake costs.

Both still train without an error, which is what makes them easy to miss:

* ``TokenSplitAttention`` splits the *tokens* among the heads instead of the features, the way
  ``np.split(Q, number_of_heads)`` does on a (T, D) matrix: head i sees only the i-th block of positions.
* ``TransformerWithoutPositions`` forgets the positional encoding, so the encoder sees its input as a set.
"""

from __future__ import annotations

import torch
from torch import nn

from transformer_tutorial.mask_shapes import with_head_axis
from transformer_tutorial.torch.attention import (
    KeyValueCache,
    MultiHeadAttention,
    check_multi_head_call,
    scaled_dot_product_attention,
)
from transformer_tutorial.torch.model import Transformer
from transformer_tutorial.validation import validated

# What tests/test_training.py requires of each mistake, after the same short training as the correct model: a final
# loss at least LOSS_MARGIN higher, and an exact-sequence accuracy on held-out sequences at least ACCURACY_MARGIN lower.
LOSS_MARGIN = 0.25
ACCURACY_MARGIN = 0.25


class TokenSplitAttention(MultiHeadAttention):
    """WRONG on purpose: "heads" that each get a block
    of consecutive positions with all D features.

    The queries are cut into H blocks along the sequence, and so are the keys and values; block i of the queries attends
    only to block i of the keys, and the results are joined along the sequence again. No position can read a position
    outside its own block.
    """

    @validated(check_multi_head_call)
    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        cache: KeyValueCache | None = None,
    ) -> tuple[torch.Tensor, None]:
        if cache is not None:
            raise ValueError("TokenSplitAttention has no cache: decode it without one")
        head_mask = with_head_axis(mask)
        # (B, T, D), (B, S, D), (B, S, D)
        q, k, v = (
            self.q_proj(query),
            self.k_proj(key),
            self.v_proj(value),
        )
        if head_mask is not None:
            # (B, T, S)
            head_mask = head_mask[:, 0].expand(
                query.shape[0], query.shape[1], key.shape[1]
            )
        query_blocks = torch.arange(query.shape[1]).tensor_split(self.num_heads)
        key_blocks = torch.arange(key.shape[1]).tensor_split(self.num_heads)
        outputs = []
        for rows, cols in zip(query_blocks, key_blocks, strict=True):
            block_mask = None if head_mask is None else head_mask[:, rows][:, :, cols]
            # a block with no keys (more heads than positions): nothing to read
            if len(cols) == 0:
                outputs.append(torch.zeros_like(q[:, rows]))
                continue
            output, _ = scaled_dot_product_attention(
                q[:, rows], k[:, cols], v[:, cols], block_mask
            )
            # each block has all D features, so its scores are scaled by √D
            outputs.append(output)
        return self.out_proj(torch.cat(outputs, dim=1)), None


def with_token_split_attention(model: nn.Module) -> nn.Module:
    """Replace every ``MultiHeadAttention`` in ``model`` by a ``TokenSplitAttention``
    with the same weights (and biases or none, dtype, device and mode)."""
    for module in list(model.modules()):
        for name, child in module.named_children():
            if type(child) is MultiHeadAttention:
                weight = child.q_proj.weight
                wrong = TokenSplitAttention(
                    child.d_model,
                    child.num_heads,
                    child.dropout,
                    bias=child.q_proj.bias is not None,
                ).to(device=weight.device, dtype=weight.dtype)
                wrong.load_state_dict(child.state_dict())
                wrong.train(child.training)
                setattr(module, name, wrong)
    return model


class TransformerWithoutPositions(Transformer):
    """WRONG on purpose: the embeddings get no positional encoding."""

    def positional_encoding(
        self, offset: int, length: int, like: torch.Tensor
    ) -> torch.Tensor:
        return torch.zeros(
            length, self.config.d_model, dtype=like.dtype, device=like.device
        )
