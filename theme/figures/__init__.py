"""The site's figures, drawn by the site build (not part of the installed package), one module per chapter.

The site build renders every entry of ``FIGURES`` and ``DATA_FIGURES`` with ``figure_svg`` twice, to
``figures/<name>.svg`` and, in the dark palette, ``figures/<name>-dark.svg`` (see ``theme/hooks/render_figures.py`` and
``plotting.palette``); in a notebook, call the function and the figure appears. Every figure is seeded, so it is the
same each time. Figures of stored measurements are in ``DATA_FIGURES``: each takes the stored result named beside it
(``transformer_tutorial.results``), so that the site plots what was measured instead of measuring again at build time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.figure import Figure

from figures.architecture import residual_gradients
from figures.attention import (
    dot_product_scaling,
    multi_head_weights,
)
from figures.beginner import (
    attention_step_head,
    attention_step_loop,
    attention_step_matrix,
    attention_step_softmax,
    tokenization_lengths,
)
from figures.benchmarks import (
    benchmark_memory,
    benchmark_ratios,
    benchmark_throughput,
    benchmark_times,
)
from figures.diagrams import (
    attention_masks,
    cross_attention,
    head_split,
    kv_cache,
    qkv_projections,
    rope_rotation,
    vit_patches,
)
from figures.encoder import minilm_head_scores, minilm_heads
from figures.latent import published_cache_sizes
from figures.long_context import (
    block_table,
    extrapolation_losses,
    qk_norm_logits,
    rope_frequencies_scaled,
    sink_columns,
)
from figures.modern import (
    kv_cache_sizes,
    shared_heads,
    sliding_window,
    tiled_memory,
)
from figures.plotting import palette, svg_bytes
from figures.positional import (
    alibi_biases,
    sinusoidal_dimensions,
    sinusoidal_dot_products,
    sinusoidal_encoding_map,
    sinusoidal_variants,
)
from figures.training import (
    learning_rate_schedule,
    parallelism,
    sampling_distributions,
    smoothed_target_distribution,
)
from figures.vision import (
    vit_digits_attention,
    vit_digits_confusion,
)
from transformer_tutorial import results

FIGURES: dict[str, Callable[[], Figure]] = {
    "attention-masks": attention_masks,
    "dot-product-scaling": dot_product_scaling,
    "multi-head-weights": multi_head_weights,
    "residual-gradients": residual_gradients,
    "learning-rate-schedule": learning_rate_schedule,
    "smoothed-targets": smoothed_target_distribution,
    "sinusoidal-encoding": sinusoidal_encoding_map,
    "sinusoidal-dimensions": sinusoidal_dimensions,
    "sinusoidal-dot-products": sinusoidal_dot_products,
    "sinusoidal-variants": sinusoidal_variants,
    "alibi-bias": alibi_biases,
    "sampling-distributions": sampling_distributions,
    "minilm-head-scores": minilm_head_scores,
    "minilm-heads": minilm_heads,
    "vit-patches": vit_patches,
    "attention-step-loop": attention_step_loop,
    "attention-step-matrix": attention_step_matrix,
    "attention-step-softmax": attention_step_softmax,
    "attention-step-head": attention_step_head,
    "shared-heads": shared_heads,
    "sliding-window": sliding_window,
    "head-split": head_split,
    "qkv-projections": qkv_projections,
    "kv-cache": kv_cache,
    "rope-rotation": rope_rotation,
    "published-cache-sizes": published_cache_sizes,
    "block-table": block_table,
    "rope-scaling-frequencies": rope_frequencies_scaled,
}

# name -> (function of the parsed JSON, name of the stored result it plots)
DATA_FIGURES: dict[str, tuple[Callable[[Any], Figure], str]] = {
    "vit-digits-confusion": (vit_digits_confusion, "vit-digits"),
    "vit-digits-attention": (vit_digits_attention, "vit-digits"),
    "benchmark-times": (benchmark_times, "cpu-benchmark"),
    "benchmark-ratios": (benchmark_ratios, "cpu-benchmark"),
    "benchmark-memory": (benchmark_memory, "cpu-benchmark"),
    "benchmark-throughput": (benchmark_throughput, "cpu-benchmark"),
    "parallelism": (parallelism, "parallelism"),
    "tokenization-lengths": (tokenization_lengths, "tokenization"),
    "tiled-memory": (tiled_memory, "modern-attention"),
    "kv-cache-sizes": (kv_cache_sizes, "modern-attention"),
    "cross-attention": (cross_attention, "reversal-attention"),
    "sink-columns": (sink_columns, "long-context"),
    "extrapolation-losses": (extrapolation_losses, "long-context"),
    "qk-norm-logits": (qk_norm_logits, "long-context"),
}


def figure_svg(name: str, colours: str = "light") -> bytes:
    """Draw figure ``name`` as SVG in palette ``colours`` ("light" or
    "dark"); a figure of stored measurements reads its result first."""
    with palette(colours):
        if name in DATA_FIGURES:
            draw, result = DATA_FIGURES[name]
            return svg_bytes(draw(results.load(result)))
        return svg_bytes(FIGURES[name]())
