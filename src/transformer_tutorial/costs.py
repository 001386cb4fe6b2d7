"""What the models cost: arithmetic, parameters and key/value caches, counted from the shapes (framework-free).

``PUBLISHED`` quotes the attention of published models, with the document each number comes from."""

from __future__ import annotations

from dataclasses import dataclass

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


# --8<-- [start:kv_cache_bytes_per_token]
CACHE_KINDS = ("multi-head", "grouped-query", "multi-query", "sliding-window", "latent")


def kv_cache_bytes_per_token(
    attention: str,
    num_layers: int,
    head_width: int,
    num_kv_heads: int = 1,
    *,
    window: int | None = None,
    context_length: int | None = None,
    kv_latent_width: int = 0,
    rope_width: int = 0,
    bytes_per_number: int = 2,
) -> float:
    """The bytes a decoder's cache holds per token of context, all layers together.

    multi-head, grouped-query and multi-query attention keep a key and a value of ``head_width`` numbers for each of
    ``num_kv_heads`` heads (H, G and 1); a sliding window keeps those of the last ``window`` tokens only, so per token
    of a context of ``context_length`` it holds min(window, n) / n of them; MLA ("latent") keeps the latent and the one
    rotated key: kv_latent_width + rope_width numbers.

    Examples:
        >>> kv_cache_bytes_per_token("grouped-query", 32, 128, num_kv_heads=8)
        131072.0
        >>> kv_cache_bytes_per_token("latent", 60, 128, kv_latent_width=512, rope_width=64)
        69120.0
    """
    if attention not in CACHE_KINDS:
        raise ValueError(f"attention must be one of {CACHE_KINDS}, got {attention!r}")
    check_positive_int("num_layers", num_layers)
    check_positive_int("bytes_per_number", bytes_per_number)
    if attention == "latent":
        check_positive_int("kv_latent_width", kv_latent_width)
        check_positive_int("rope_width", rope_width, allow_zero=True)
        return float(num_layers * (kv_latent_width + rope_width) * bytes_per_number)
    check_positive_int("head_width", head_width)
    check_positive_int("num_kv_heads", num_kv_heads)
    if attention == "multi-query" and num_kv_heads != 1:
        raise ValueError(
            f"multi-query attention has num_kv_heads=1, got {num_kv_heads}"
        )
    per_token = 2 * num_layers * num_kv_heads * head_width * bytes_per_number  # K and V
    if attention != "sliding-window":
        return float(per_token)
    if window is None or context_length is None:
        raise ValueError(
            "a sliding window needs window and context_length, got "
            f"window={window}, context_length={context_length}"
        )
    check_positive_int("window", window)
    check_positive_int("context_length", context_length)
    return per_token * min(window, context_length) / context_length


# --8<-- [end:kv_cache_bytes_per_token]


@dataclass(frozen=True)
class PublishedAttention:
    """One model's attention, as published.

    Attributes:
        model: The model's name.
        attention: One of ``costs.CACHE_KINDS``.
        num_layers: N, layers that each keep a cache.
        num_heads: H query heads.
        head_width: d_h, the width of one key or value head.
        num_kv_heads: G key/value heads (H for multi-head, 1 for multi-query, 1 for MLA).
        context_length: The longest context the source gives for the model.
        source: Where the numbers are stated.
        window: The sliding window, for sliding-window attention.
        kv_latent_width: d_c, for MLA.
        rope_width: d_R, for MLA.
    """

    model: str
    attention: str
    num_layers: int
    num_heads: int
    head_width: int
    num_kv_heads: int
    context_length: int
    source: str
    window: int | None = None
    kv_latent_width: int = 0
    rope_width: int = 0

    def bytes_per_token(self, context_length: int, bytes_per_number: int = 2) -> float:
        """Cache bytes per token of a context of
        ``context_length`` tokens (16-bit numbers by default)."""
        return kv_cache_bytes_per_token(
            self.attention,
            self.num_layers,
            self.head_width,
            self.num_kv_heads,
            window=self.window,
            context_length=context_length,
            kv_latent_width=self.kv_latent_width,
            rope_width=self.rope_width,
            bytes_per_number=bytes_per_number,
        )


PUBLISHED = (
    PublishedAttention(
        "Llama 2 7B", "multi-head", 32, 32, 128, 32, 4096,
        "Llama 2 paper (arXiv 2307.09288): context 4096; meta-llama/Llama-2-7b-hf "
        "config.json: 32 layers, 32 heads of 128",
    ),
    PublishedAttention(
        "Llama 2 70B", "grouped-query", 80, 64, 128, 8, 4096,
        "Llama 2 paper (arXiv 2307.09288): GQA for 34B and 70B; meta-llama/Llama-2-70b-hf "
        "config.json: 80 layers, 64 heads of 128, 8 key/value heads",
    ),
    PublishedAttention(
        "Llama 3 8B", "grouped-query", 32, 32, 128, 8, 8192,
        "Llama 3 paper (arXiv 2407.21783), Table 3: 32 layers, 4096 wide, 32 heads, "
        "8 key/value heads",
    ),
    PublishedAttention(
        "Mistral 7B", "sliding-window", 32, 32, 128, 8, 8192,
        "Mistral 7B paper (arXiv 2310.06825), Table 1: 32 layers, head_dim 128, "
        "8 key/value heads, window 4096, context 8192",
        window=4096,
    ),
    PublishedAttention(
        "Gemma 2B", "multi-query", 18, 8, 256, 1, 8192,
        "Gemma paper (arXiv 2403.08295), Table 1: 18 layers, 8 heads, 1 key/value head "
        "of 256",
    ),
    PublishedAttention(
        "Gemma 7B", "multi-head", 28, 16, 256, 16, 8192,
        "Gemma paper (arXiv 2403.08295), Table 1: 28 layers, 16 heads of 256",
    ),
    PublishedAttention(
        "DeepSeek-V2", "latent", 60, 128, 128, 1, 131072,
        "DeepSeek-V2 paper (arXiv 2405.04434), §3.1, and model card: 60 layers, "
        "128 heads of 128, d_c = 512, d_R = 64",
        kv_latent_width=512, rope_width=64,
    ),
    PublishedAttention(
        "DeepSeek-V3", "latent", 61, 128, 128, 1, 131072,
        "DeepSeek-V3 report (arXiv 2412.19437), §4.2: 61 layers, 128 heads of 128, "
        "d_c = 512, d_R = 64",
        kv_latent_width=512, rope_width=64,
    ),
)  # fmt: skip
