"""What the models cost: arithmetic and parameters, counted from the shapes (framework-free)."""

from __future__ import annotations

from transformer_tutorial.checks import check_heads, check_positive_int
from transformer_tutorial.config import TransformerConfig


# --8<-- [start:attention_multiply_adds]
def attention_multiply_adds(
    query_length: int,
    key_length: int,
    d_model: int,
    num_heads: int,
) -> dict[str, int]:
    """Multiply-adds of one multi-head attention
    call on one sequence, for each matrix product.

    Each head has d = D / H features, so the per-head products cost H · (T·S·d) = T·S·D together: the number of heads
    cancels out.

    Examples:
        >>> one = attention_multiply_adds(10, 10, 64, num_heads=1)
        >>> eight = attention_multiply_adds(10, 10, 64, num_heads=8)
        >>> one == eight, sum(one.values())
        (True, 176640)
    """
    for name, value in (("query_length", query_length), ("key_length", key_length)):
        check_positive_int(name, value, allow_zero=True)
    check_heads(d_model, num_heads)
    d = d_model // num_heads
    return {
        "query projection": query_length * d_model * d_model,
        "key projection": key_length * d_model * d_model,
        "value projection": key_length * d_model * d_model,
        "scores Q·Kᵀ, all heads": num_heads * query_length * key_length * d,
        "weights·V, all heads": num_heads * query_length * key_length * d,
        "output projection": query_length * d_model * d_model,
    }


# --8<-- [end:attention_multiply_adds]


def layer_multiply_adds_per_position(
    length: int, d_model: int, d_ff: int
) -> dict[str, int]:
    """Multiply-adds per position of one Transformer encoder
    layer and of one LSTM layer of the same width D.

    Transformer: the four projections 4·D², the feed-forward network 2·D·d_ff, and attention 2·T·D (scores and weighted
    sum, all heads together). LSTM: four gates, each one (D × D) product with the input and one with the previous hidden
    state, 8·D², whatever the length.

    Examples:
        >>> costs = layer_multiply_adds_per_position(16, d_model=256, d_ff=1024)
        >>> costs["transformer"] / costs["lstm"]  # 12·D² + 2·T·D against 8·D²
        1.515625
    """
    check_positive_int("length", length)
    check_positive_int("d_model", d_model)
    check_positive_int("d_ff", d_ff)
    return {
        "transformer": 4 * d_model * d_model
        + 2 * d_model * d_ff
        + 2 * length * d_model,
        "lstm": 8 * d_model * d_model,
    }


# --8<-- [start:transformer_parameter_count]
def transformer_parameter_count(config: TransformerConfig) -> dict[str, int]:
    """The parameters of ``Transformer(config)``,
    counted from the architecture, block by block.

    Examples:
        >>> counts = transformer_parameter_count(TransformerConfig.base())
        >>> f"{sum(counts.values()):,}"
        '63,082,496'
    """
    d, f, n = config.d_model, config.d_ff, config.num_layers
    attention = 4 * (d * d + d)  # W^Q, W^K, W^V, W^O and their biases
    feed_forward = (d * f + f) + (f * d + d)
    layer_norm = 2 * d  # γ and β
    counts = {"encoder layers": n * (attention + feed_forward + 2 * layer_norm)}
    counts["decoder layers"] = n * (2 * attention + feed_forward + 3 * layer_norm)
    # one matrix: source and target embeddings and the output layer
    if config.share_embeddings:
        counts["embeddings and output layer (shared)"] = config.src_vocab_size * d
    else:
        counts["source embeddings"] = config.src_vocab_size * d
        counts["target embeddings"] = config.tgt_vocab_size * d
        counts["output layer"] = d * config.tgt_vocab_size
    if config.norm_first:
        counts["final LayerNorms (pre-norm)"] = 2 * layer_norm
    return counts


# --8<-- [end:transformer_parameter_count]
