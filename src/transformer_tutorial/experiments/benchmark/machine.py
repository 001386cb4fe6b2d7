"""What the benchmark records about the machine: processor, cores, versions, thread pools, huge pages, load."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

try:
    import resource  # Unix only: page-fault counts
except ImportError:  # pragma: no cover - Windows
    resource = None
import numpy as np
import torch
import torch.utils._pytree
from threadpoolctl import threadpool_info

from transformer_tutorial.experiments import processor_name


def _physical_cores() -> int | None:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return None
    cores = set()
    for block in text.split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        if "core id" in fields:
            cores.add((fields.get("physical id"), fields["core id"]))
    return len(cores) or None


def _huge_pages() -> str:
    """The kernel's transparent huge page mode, and
    whether PyTorch's CPU allocator asks for huge pages."""
    try:
        mode = (
            Path("/sys/kernel/mm/transparent_hugepage/enabled")
            .read_text(encoding="utf-8")
            .strip()
        )
    except OSError:
        mode = "unknown"
    return f"transparent_hugepage: {mode}; THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE', 'unset')}"


def load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info(device: torch.device) -> dict[str, Any]:
    """The machine, the versions and the thread counts,
    as they are now (call it inside the thread limits)."""
    blas = [
        {
            key: info.get(key)
            for key in ("internal_api", "version", "num_threads", "threading_layer")
        }
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    cuda = device.type == "cuda"
    return {
        "cpu": processor_name(),
        "physical_cores": _physical_cores(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "blas": blas,
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "cuda": torch.version.cuda if cuda else None,
        "huge_pages": _huge_pages(),
    }
