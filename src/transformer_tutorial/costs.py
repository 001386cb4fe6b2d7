"""How much arithmetic attention does, counted operation by operation (framework-free)."""

from __future__ import annotations

from transformer_tutorial.checks import check_positive_int


# --8<-- [start:attention_multiply_adds]
def attention_multiply_adds(query_length: int, key_length: int, d_model: int, num_heads: int) -> dict[str, int]:
    """Multiply-adds of one multi-head attention call on one sequence, for each matrix product.

    Each head has d = D / H features, so the per-head products cost H · (T·S·d) = T·S·D together: the number
    of heads cancels out.

    Examples:
        >>> one = attention_multiply_adds(10, 10, 64, num_heads=1)
        >>> eight = attention_multiply_adds(10, 10, 64, num_heads=8)
        >>> one == eight, sum(one.values())
        (True, 176640)
    """
    for name, value in (("query_length", query_length), ("key_length", key_length)):
        check_positive_int(name, value, allow_zero=True)
    check_positive_int("d_model", d_model)
    check_positive_int("num_heads", num_heads)
    if d_model % num_heads:
        raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
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
