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
# # Softmax, from scores to weights
#
# This notebook is small on purpose: it proves that the site runs notebooks when it is built, renders their
# figures and typesets their math. Softmax turns a vector of scores $z$ into weights that are positive and sum
# to one:
#
# $$\operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}$$

# %%
import matplotlib.pyplot as plt
import numpy as np

from transformer_tutorial.numpy import softmax

scores = np.array([2.0, 1.0, 0.1, -1.0])
weights = softmax(scores)
print(weights.round(3), weights.sum())

# %% [markdown]
# Dividing the scores by a temperature $\tau$ before the softmax sharpens the weights when $\tau < 1$ and flattens
# them when $\tau > 1$.

# %%
temperatures = [0.5, 1.0, 4.0]
fig, ax = plt.subplots(figsize=(6, 3))
width = 0.25
for k, tau in enumerate(temperatures):
    ax.bar(np.arange(len(scores)) + (k - 1) * width, softmax(scores / tau), width, label=f"τ = {tau}")
ax.set_xticks(range(len(scores)), [f"z = {s:g}" for s in scores])
ax.set_ylabel("weight")
ax.legend()
plt.show()
