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
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "--site-dir", str(site_dir)],
        cwd=config.parent,
        text=True,
        env={**env, "NO_MKDOCS_2_WARNING": "1"},
        **output,
    )


def build_site(config: Path, site_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``mkdocs build --strict`` on ``config`` into ``site_dir``; the result holds the build's output."""
    build = start_build(config, site_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = build.communicate()
    return subprocess.CompletedProcess(build.args, build.returncode, stdout, stderr)


def perturb_norms_and_biases(model):
    """Add noise (scale 0.2, from torch's global generator) to every LayerNorm γ and β and every bias, in place;
    return the model. At their defaults, ones and zeros, a swapped γ and β or a dropped bias would go unnoticed."""
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                parameter.add_(torch.randn(parameter.shape, dtype=parameter.dtype) * 0.2)
    return model


def randomise(module, seed: int = 0):
    """Give every parameter of a torch module random values (scale 0.3), and return the module.

    The default values (LayerNorm's ones and zeros, zero biases, a class token at zero) would hide a swapped
    γ and β or a bias that is dropped.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return module
