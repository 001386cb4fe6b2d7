"""What the benchmark times: the implementations of multi-head attention, built on the same weights and input.

``build_workload`` makes, for one width and length, every implementation's forward call and forward+backward call on one
seeded input; ``Settings`` says which sizes a run covers and how often it times each call, and ``model_flops`` counts
the useful work of one call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

try:
    import resource  # Unix only: page-fault counts
except ImportError:  # pragma: no cover - Windows
    resource = None
import numpy as np
import torch
import torch.nn.functional as F
import torch.utils._pytree
from torch import nn

from transformer_tutorial.costs import attention_multiply_adds
from transformer_tutorial.numpy.attention import (
    MultiHeadAttentionParams,
    multi_head_attention,
)
from transformer_tutorial.torch.attention import MultiHeadAttention, split_heads
from transformer_tutorial.torch.modes import seeded

PASSES = ("forward", "forward+backward")


BASELINE = "torch-mha"


IMPLEMENTATIONS: dict[str, str] = {
    "numpy-float32": "transformer_tutorial.numpy.multi_head_attention on float32 arrays (forward only; returns "
    "the weights)",
    "numpy-float64": "the same in float64, the NumPy side's usual precision (forward only)",
    "torch-explicit": "our MultiHeadAttention, fused=False: softmax(QKᵀ/√d)V written out; returns the per-head weights",
    "torch-fused": "our MultiHeadAttention, fused=True: the heads go through F.scaled_dot_product_attention",
    "torch-mha": "nn.MultiheadAttention(batch_first=True), need_weights=False: the baseline of every ratio "
    "(its forward may take PyTorch's native fast path)",
    "torch-mha-weights": "nn.MultiheadAttention with need_weights=True, average_attn_weights=False: PyTorch's "
    "own explicit path, which returns the per-head weights",
    "torch-sdpa": "F.scaled_dot_product_attention alone, on heads already projected (B, H, T, d): no projections",
}


NUMPY_IMPLEMENTATIONS = ("numpy-float32", "numpy-float64")


MEMORY_IMPLEMENTATIONS = ("torch-explicit", "torch-fused", "torch-mha")


@dataclass(frozen=True)
class Settings:
    """What one run measures and how often.

    Each group of calls is warmed up ``warmup`` times, then timed for as many rounds as fit in ``budget_s`` (judged from
    the warm-up), but at least ``min_repeats`` and at most ``max_repeats``: long calls get few repeats instead of being
    dropped.
    """

    batch: int
    num_heads: int
    widths: tuple[int, ...]  # d_model values
    lengths: tuple[int, ...]  # T = S: self-attention over one sequence of this length
    # peak memory is measured at these lengths, for the largest width
    memory_lengths: tuple[int, ...]
    warmup: int = 1
    min_repeats: int = 3
    max_repeats: int = 25
    budget_s: float = 1.5
    pause_s: float = (
        0.25  # idle time when switching between NumPy's and PyTorch's thread pools
    )
    # "wall": time.perf_counter. "process": time.process_time, the CPU time of this process, which a busy
    # neighbour does not inflate; with one thread it equals the wall-clock time of an idle machine.
    clock: str = "wall"
    matmul_size: int = (
        2048  # the square matrix product that measures the device's ceiling
    )
    generation_tokens: int = (
        512  # tokens generated with and without the key/value cache
    )


LENGTHS = (64, 128, 256, 512, 1024, 2048, 4096)


QUICK = Settings(
    batch=1,
    num_heads=2,
    widths=(16,),
    lengths=(8, 32),
    memory_lengths=(32,),
    min_repeats=2,
    max_repeats=3,
    budget_s=0.0,
    pause_s=0.0,
    matmul_size=128,
    generation_tokens=8,
)


CPU_FULL = Settings(
    batch=1, num_heads=8, widths=(256, 512), lengths=LENGTHS, memory_lengths=LENGTHS
)


CUDA_FULL = Settings(
    batch=4,
    num_heads=16,
    widths=(1024,),
    lengths=(*LENGTHS, 8192),
    memory_lengths=(*LENGTHS, 8192),
    min_repeats=5,
    max_repeats=30,
    budget_s=1.0,
    pause_s=0.0,
    matmul_size=8192,
)


@dataclass
class Case:
    """One implementation on one workload: its forward
    call, its forward+backward call, and a reset.

    ``reset`` runs before every timed call, untimed: it drops the gradients of the last backward pass so that each
    backward pass allocates them afresh instead of adding into them.
    """

    library: str  # "numpy" or "torch": the thread pool it runs on
    forward: Callable[[], Any]
    forward_backward: Callable[[], None] | None
    reset: Callable[[], None]


@dataclass
class Workload:
    """The inputs, the modules (all with the same
    weights) and the cases of one width and length."""

    x: torch.Tensor  # (B, T, D)
    ours: MultiHeadAttention
    reference: nn.MultiheadAttention
    # q, k, v: (B, H, T, d), projected by ``ours``
    heads: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    cases: dict[str, Case]


def nothing() -> None:
    return None


def _cast_params(
    params: MultiHeadAttentionParams, dtype: type
) -> MultiHeadAttentionParams:
    arrays = {
        f.name: getattr(params, f.name)
        for f in dataclasses.fields(params)
        if f.name != "num_heads"
    }
    return MultiHeadAttentionParams(
        **{name: np.ascontiguousarray(a, dtype=dtype) for name, a in arrays.items()},
        num_heads=params.num_heads,
    )


def build_workload(
    d_model: int,
    num_heads: int,
    length: int,
    batch: int = 1,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> Workload:
    """Build every implementation on the same
    weights and the same input x (B, T, D), seeded.

    The NumPy cases exist only on the CPU in float32 (then both NumPy dtypes are timed): NumPy has no bfloat16 and no
    GPU. The modules are in eval mode; their dropout is 0, so train mode would compute the same thing.
    """
    device = torch.device(device)
    with seeded(seed):  # the caller's global random state is given back
        reference = nn.MultiheadAttention(
            d_model, num_heads, batch_first=True, device=device, dtype=dtype
        ).eval()
        ours = MultiHeadAttention.from_pytorch(reference).eval()
        x = torch.randn(batch, length, d_model, device=device, dtype=dtype)
        grad_output = torch.randn_like(x)
        with torch.no_grad():
            heads = tuple(
                split_heads(proj(x), num_heads).contiguous()
                for proj in (ours.q_proj, ours.k_proj, ours.v_proj)
            )
        grad_heads = torch.randn_like(heads[0])
    x_leaf = x.detach().clone().requires_grad_(True)
    heads_leaf = tuple(h.detach().clone().requires_grad_(True) for h in heads)

    def reset_module(module: nn.Module, *leaves: torch.Tensor) -> Callable[[], None]:
        def reset() -> None:
            module.zero_grad(set_to_none=True)
            for leaf in leaves:
                leaf.grad = None

        return reset

    def ours_forward(fused: bool) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            ours.fused = fused
            with torch.no_grad():
                return ours(x, x, x)[0]

        return run

    def ours_backward(fused: bool) -> Callable[[], None]:
        def run() -> None:
            ours.fused = fused
            ours(x_leaf, x_leaf, x_leaf)[0].backward(grad_output)

        return run

    def mha_forward(need_weights: bool) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            with torch.no_grad():
                return reference(
                    x, x, x, need_weights=need_weights, average_attn_weights=False
                )[0]

        return run

    def mha_backward(need_weights: bool) -> Callable[[], None]:
        def run() -> None:
            output = reference(
                x_leaf,
                x_leaf,
                x_leaf,
                need_weights=need_weights,
                average_attn_weights=False,
            )[0]
            output.backward(grad_output)

        return run

    def sdpa_forward() -> torch.Tensor:
        with torch.no_grad():
            return F.scaled_dot_product_attention(*heads)

    def sdpa_backward() -> None:
        F.scaled_dot_product_attention(*heads_leaf).backward(grad_heads)

    cases = {}
    if device.type == "cpu" and dtype == torch.float32:
        params = ours.numpy_params()
        for name, np_dtype in (
            ("numpy-float32", np.float32),
            ("numpy-float64", np.float64),
        ):
            x_np = np.ascontiguousarray(x.numpy(), dtype=np_dtype)
            cast = _cast_params(params, np_dtype)
            cases[name] = Case(
                "numpy",
                lambda x_np=x_np, cast=cast: multi_head_attention(
                    x_np, x_np, x_np, cast
                )[0],
                None,
                nothing,
            )
    reset_ours = reset_module(ours, x_leaf)
    reset_reference = reset_module(reference, x_leaf)
    cases["torch-explicit"] = Case(
        "torch", ours_forward(False), ours_backward(False), reset_ours
    )
    cases["torch-fused"] = Case(
        "torch", ours_forward(True), ours_backward(True), reset_ours
    )
    cases["torch-mha"] = Case(
        "torch", mha_forward(False), mha_backward(False), reset_reference
    )
    cases["torch-mha-weights"] = Case(
        "torch", mha_forward(True), mha_backward(True), reset_reference
    )
    cases["torch-sdpa"] = Case(
        "torch", sdpa_forward, sdpa_backward, reset_module(nn.Module(), *heads_leaf)
    )
    return Workload(x, ours, reference, heads, cases)


def model_flops(
    implementation: str,
    pass_: str,
    batch: int,
    length: int,
    d_model: int,
    num_heads: int,
) -> int:
    """Floating-point operations of one call, counted
    from the matrix products: 2 per multiply-add.

    Forward+backward counts 3x the forward: the backward pass of a product needs two products of the same size (one for
    each input's gradient). These are model FLOPs, the useful work: the fused kernel's backward recomputes the scores
    Q·Kᵀ instead of storing them, so the hardware does more than this count says (about 3.5x the forward for the
    attention products instead of 3x). ``torch-sdpa`` does no projections.

    Examples:
        >>> model_flops("torch-sdpa", "forward", batch=1, length=4, d_model=8, num_heads=2)  # 2·(2·4·4·8)
        512
        >>> [model_flops("torch-fused", pass_, 1, 4, 8, 2) for pass_ in PASSES]  # projections 2·(4·4·8·8) more
        [2560, 7680]
    """
    counts = attention_multiply_adds(length, length, d_model, num_heads)
    if implementation == "torch-sdpa":
        multiply_adds = sum(
            value for name, value in counts.items() if name.endswith("all heads")
        )
    else:
        multiply_adds = sum(counts.values())
    forward = 2 * multiply_adds * batch
    return forward if pass_ == "forward" else 3 * forward
