"""The data the models read: toy tasks, the digits, the site's own text, tokenizers and the pretrained checkpoint.

Framework-free (NumPy and the standard library): both backends can use it, and it imports neither.
"""
