# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A character-level GPT trained on this site
#
# This notebook trains the decoder-only model of the [causal self-attention chapter](../causal-self-attention.md)
# for a few seconds on one CPU core, on the prose of this site's own pages, then samples from it with
# temperature, top-k and the key/value cache. The numbers below come from the run you are looking at; the corpus
# is the site's own text, so they change when the pages do.

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from transformer_tutorial.config import DecoderOnlyConfig
from transformer_tutorial.data.text import character_corpus, evaluation_windows
from transformer_tutorial.torch.decoder_only import (
    DecoderOnly,
    evaluate_language_model,
    generate,
    train_language_model,
)

# a model this small gains nothing from more threads, and a busy machine slows them down
torch.set_num_threads(1)

# %% [markdown]
# ## The corpus
#
# The prose of this site's own pages, without their code blocks, as it ships with the package (`load_corpus`).
# The vocabulary is every character that occurs, so a model that knows nothing, and gives each of the $V$
# characters the same probability $1/V$, has a loss (cross-entropy) of $\ln V$ nats per character: the uniform
# baseline. A second baseline knows how often each character occurs, but not what came before it. The model
# trains on the first nine tenths and is scored on windows of the last tenth, less any window that repeats
# training text word for word (the pages share a few phrases); the baselines are scored on the same windows.

# %%
# the first nine tenths to train on, the last tenth held out
tokenizer, train_ids, held_out_ids = character_corpus()
# the model reads 48 characters; it is scored on the character after each of them
context = 48
windows = evaluation_windows(held_out_ids, context, seen=train_ids)
scored = windows[:, 1:]

# +1: a character unseen in training still gets some
counts = np.bincount(train_ids, minlength=len(tokenizer)) + 1
frequencies = counts / counts.sum()
uniform = math.log(len(tokenizer))
unigram = -np.log(frequencies[scored]).mean()
characters = len(train_ids) + len(held_out_ids)
print(f"{characters:,} characters, vocabulary V = {len(tokenizer)}")
print(f"uniform baseline ln V = {uniform:.3f} nats")
print(f"character frequencies alone = {unigram:.3f} nats")

# %% [markdown]
# ## The model and its training
#
# Two pre-norm blocks of width 48 with 4 heads, a context of 48 characters, and about 60,000 parameters.
# Each step draws 16 random windows of 49 characters; every one of the 48 positions of every window is a
# training example, thanks to the causal mask.

# %%
torch.manual_seed(0)
config = DecoderOnlyConfig(
    vocab_size=len(tokenizer),
    d_model=48,
    num_heads=4,
    num_layers=2,
    d_ff=192,
    max_len=context,
)
model = DecoderOnly(config)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
before = evaluate_language_model(model, held_out_ids, seen=train_ids)

start = time.perf_counter()
losses = train_language_model(
    model,
    train_ids,
    steps=150,
    batch_size=16,
    learning_rate=5e-3,
    seed=0,
)
seconds = time.perf_counter() - start
after = evaluate_language_model(model, held_out_ids, seen=train_ids)
print(f"150 steps in {seconds:.1f} s")
print(f"held-out loss: {before:.3f} before training, {after:.3f} after")

# %% alt="The training loss of each of the 150 steps, with three horizontal lines: the uniform baseline (dashed), the loss of character frequencies alone (dotted) and the held-out loss after training (solid)."
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(losses, label="training loss (one batch per step)")
ax.axhline(
    uniform,
    color="gray",
    linestyle="--",
    label=f"uniform baseline, ln {len(tokenizer)}",
)
ax.axhline(unigram, color="gray", linestyle=":", label="character frequencies alone")
ax.axhline(after, color="#d9480f", label="held-out loss after training")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy (nats per character)")
ax.legend()
plt.show()

# %% [markdown]
# The untrained model starts at the uniform baseline: its embeddings are small and tied to the output layer, so
# its logits are all close to zero. After training, the held-out loss is below the frequency baseline: the
# model uses the characters before each position, on text it has not trained on. The cell below checks both
# sentences on this run's numbers, and stops the notebook, quoting the sentence, if one no longer holds.

# %%
claim = "The untrained model starts at the uniform baseline"
assert abs(before - uniform) < 0.05, claim  # nats, as on the causal page
claim = "After training, the held-out loss is below the frequency baseline"
assert after < unigram, claim

# %% [markdown]
# ## Sampling
#
# Each sample starts from the same prompt and draws 38 characters, which fills the 48 positions of the
# context, with the key/value cache: the prompt is processed once, then every step feeds the model only the
# newest character.

# %%
prompt = torch.from_numpy(tokenizer.encode("Attention "))[None]  # (1, 10)
for temperature, top_k in [(1.0, None), (0.7, None), (0.7, 5), (0.3, None), (1.0, 1)]:
    generator = torch.Generator().manual_seed(1)
    sample = generate(
        prompt,
        model,
        38,
        generator,
        temperature=temperature,
        top_k=top_k,
    )
    label = f"temperature {temperature}" + ("" if top_k is None else f", top-k={top_k}")
    print(f"{label:26} {tokenizer.decode(sample[0])!r}")

# %% [markdown]
# Low temperatures repeat the most common patterns; `top-k=1` is greedy decoding and soon loops. The model is
# tiny and has seen its corpus for seconds, so the words are mostly invented, but the spaces, the short common
# words and the letter patterns of English are there.
#
# The cache changes the work, not the result: the same generator state gives the same characters without it.

# %%
with_cache = generate(
    prompt,
    model,
    38,
    torch.Generator().manual_seed(1),
    temperature=0.7,
    use_cache=True,
)
without = generate(
    prompt,
    model,
    38,
    torch.Generator().manual_seed(1),
    temperature=0.7,
    use_cache=False,
)
print(torch.equal(with_cache, without))
assert torch.equal(with_cache, without), (
    "the same generator state gives the same characters without it"
)
