"""Where the project lives, how the tests build its site, and a helper the model tests share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_build(config: Path, site_dir: Path, **output) -> subprocess.Popen[str]:
    """Start ``mkdocs build --strict`` on ``config`` into ``site_dir``; ``output`` (``stdout``, ``stderr``)
    says where its messages go, as for ``subprocess.Popen``."""
    # The build runs as a reader's would: conftest.py sets MPLBACKEND=Agg for the tests, which would reach the
    # notebooks' kernels and keep their figures off the pages.
    env = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(config),
            "--site-dir",
            str(site_dir),
        ],
        cwd=config.parent,
        text=True,
        env={**env, "NO_MKDOCS_2_WARNING": "1"},
        **output,
    )


def build_site(config: Path, site_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``mkdocs build --strict`` on ``config`` into ``site_dir``; the result holds the build's output."""
    build = start_build(
        config, site_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = build.communicate()
    return subprocess.CompletedProcess(build.args, build.returncode, stdout, stderr)


def randomise(module, seed: int = 0, norms_and_biases_only: bool = False):
    """Give the parameters of a torch module random values, in place, and return the module.

    At their defaults (LayerNorm's ones and zeros, zero biases, a class token at zero) a swapped γ and β or a
    dropped bias would go unnoticed. By default every parameter is replaced by noise of scale 0.3; with
    ``norms_and_biases_only``, LayerNorm γ and β and every bias get noise of scale 0.2 added, and the other
    weights keep their initialisation (for whole models, whose initialisation keeps activations in range).
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            noise = torch.randn(
                parameter.shape, generator=generator, dtype=parameter.dtype
            )
            if not norms_and_biases_only:
                parameter.copy_(noise * 0.3)
            elif "norm" in name or name.endswith("bias"):
                parameter.add_(noise * 0.2)
    return module
