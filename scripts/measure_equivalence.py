"""Print the largest differences between our implementations and their references.

The tests assert that each difference is below a tolerance; this prints how far below, for the record (the
numbers in the project's notes come from here). Run from the repository root:

    .venv/bin/python scripts/measure_equivalence.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.data import pretrained
from transformer_tutorial.numpy import encoder_only as np_encoder
from transformer_tutorial.numpy.encoder_only import EncoderOnlyParams
from transformer_tutorial.numpy.model import transformer
from transformer_tutorial.torch import causal_mask, to_mha_mask
from transformer_tutorial.torch.attention import MultiHeadAttention
from transformer_tutorial.torch.encoder_only import EncoderOnly, sentence_embedding
from transformer_tutorial.torch.layers import DecoderLayer, EncoderLayer, LayerNorm
from transformer_tutorial.torch.model import Transformer

TESTS = Path(__file__).resolve().parent.parent / "tests"
REFERENCE = TESTS / "data" / "minilm_reference.json"
sys.path.insert(0, str(TESTS))
from project import randomise  # noqa: E402  (the tests' helper: random weights, γ, β and biases included)


def largest(ours: torch.Tensor, theirs: torch.Tensor) -> str:
    """The largest absolute difference, and beside it the largest absolute value of the reference."""
    return (
        f"{(ours - theirs).abs().max().item():.1e} (of {theirs.abs().max().item():.0f})"
    )


def against_pytorch_modules() -> None:
    generator = torch.Generator().manual_seed(0)
    print(
        "d_model 64, 8 heads, d_ff 256, batch 4, 12 source and 9 target positions, random weights (scale 0.3)"
    )
    for dtype in (torch.float32, torch.float64):
        reference_mha = (
            randomise(nn.MultiheadAttention(64, 8, batch_first=True), seed=1)
            .to(dtype)
            .eval()
        )
        reference_norm = randomise(nn.LayerNorm(64), seed=2).to(dtype)
        reference_encoder = nn.TransformerEncoderLayer(
            64, 8, 256, dropout=0.0, batch_first=True
        )
        reference_encoder = randomise(reference_encoder, seed=3).to(dtype).eval()
        reference_decoder = nn.TransformerDecoderLayer(
            64, 8, 256, dropout=0.0, batch_first=True
        )
        reference_decoder = randomise(reference_decoder, seed=4).to(dtype).eval()
        norm = LayerNorm(64).to(dtype)
        norm.load_state_dict(reference_norm.state_dict())
        x = torch.randn(4, 12, 64, generator=generator).to(dtype)
        y = torch.randn(4, 9, 64, generator=generator).to(dtype)
        mask = causal_mask(9)
        with torch.no_grad():
            rows = {
                "nn.MultiheadAttention": largest(
                    MultiHeadAttention.from_pytorch(reference_mha).eval()(x, x, x)[0],
                    reference_mha(x, x, x)[0],
                ),
                "nn.LayerNorm": largest(norm(x), reference_norm(x)),
                "nn.TransformerEncoderLayer": largest(
                    EncoderLayer.from_pytorch(reference_encoder).eval()(x),
                    reference_encoder(x),
                ),
                "nn.TransformerDecoderLayer": largest(
                    DecoderLayer.from_pytorch(reference_decoder).eval()(y, x, mask),
                    reference_decoder(y, x, tgt_mask=to_mha_mask(mask, 8)),
                ),
            }
        print(
            f"  {str(dtype).removeprefix('torch.')}: "
            + ", ".join(f"{k} {v}" for k, v in rows.items())
        )


def numpy_against_pytorch_model() -> None:
    torch.manual_seed(0)
    config = TransformerConfig(
        23, 23, d_model=16, num_heads=4, num_layers=2, d_ff=32, dropout=0.0, max_len=20
    )
    model = randomise(Transformer(config), seed=5).double().eval()
    src = torch.tensor([[3, 4, 5, 6, 7, 0], [8, 9, 10, 0, 0, 0]])
    tgt = torch.tensor([[1, 11, 12, 13, 0], [1, 14, 15, 16, 17]])
    with torch.no_grad():
        expected = model(src, tgt).numpy()
    ours = transformer(src.numpy(), tgt.numpy(), model.numpy_params())
    print(
        f"whole encoder-decoder, NumPy against PyTorch, float64: {np.abs(ours - expected).max():.1e}"
    )


def minilm_against_reference() -> None:
    if not pretrained.minilm_available():
        print(
            f"all-MiniLM-L6-v2 is not installed ({pretrained.MINILM_INSTALL}): skipped"
        )
        return
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    minilm = pretrained.load_minilm()
    expected = np.array(reference["embeddings"])
    short = [
        i
        for i, ids in enumerate(reference["input_ids"])
        if len(ids) < reference["max_length"]
    ]
    ids = minilm.tokenizer.encode_batch(
        [reference["sentences"][i] for i in short], minilm.max_length
    )
    with torch.no_grad():
        ours_torch = sentence_embedding(
            torch.from_numpy(ids), EncoderOnly.from_bert(minilm.weights, minilm.config)
        )
    ours_numpy = np_encoder.sentence_embedding(
        ids, EncoderOnlyParams.from_bert(minilm.weights, minilm.config)
    )
    print(
        f"all-MiniLM-L6-v2 sentence embeddings against sentence-transformers, float32, {len(short)} sentences: "
        f"PyTorch {np.abs(ours_torch.numpy() - expected[short]).max():.1e}, "
        f"NumPy {np.abs(ours_numpy - expected[short]).max():.1e}"
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    against_pytorch_modules()
    numpy_against_pytorch_model()
    minilm_against_reference()
