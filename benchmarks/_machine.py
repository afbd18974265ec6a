"""One line that says what a benchmark ran on: CPU capability, cores, threads, and the GPU if any."""

from __future__ import annotations

import os
import platform


def describe() -> str:
    """e.g. ``CPU capability AVX512 (2 cores, 2 torch threads), no GPU, torch 2.13.0+cpu, Python 3.11.7``."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"CPU capability {torch.backends.cpu.get_cpu_capability()} ({os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads), {gpu}, torch {torch.__version__}, "
            f"Python {platform.python_version()}")
