"""The commands that measure, and store what they measured among ``transformer_tutorial.results``.

Each module runs as ``python -m transformer_tutorial.experiments.<name>``: ``benchmark`` (attention's time and
memory), ``parallelism`` (a Transformer layer against an LSTM, one pass against generation), ``reversal`` (the
training chapter's model from several seeds), ``vit_digits`` (the tiny Vision Transformer), ``heads`` (what the
heads of all-MiniLM-L6-v2 attend to) and ``gradients`` (how much gradient reaches the bottom of a deep stack).
An experiment may use both backends; no backend imports an experiment.
"""
