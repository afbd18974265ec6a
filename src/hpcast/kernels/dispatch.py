"""Which implementation runs: Triton kernels on CUDA tensors, the torch reference otherwise.

``kernels="auto"`` picks Triton for CUDA tensors when Triton is installed, torch otherwise; ``"triton"``
insists (on a CPU tensor it needs ``TRITON_INTERPRET=1`` set before Triton is imported: slow, for tests);
``"torch"`` never uses Triton. Nothing here queries a device at import time.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Literal

import torch

__all__ = ["Kernels", "check_kernels", "interpreting", "mse_loss", "resolve", "triton_installed"]

Kernels = Literal["auto", "torch", "triton"]


def interpreting() -> bool:
    """True when Triton runs kernels on the CPU through its interpreter."""
    return os.environ.get("TRITON_INTERPRET", "") == "1"


def triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def check_kernels(kernels: str) -> None:
    if kernels not in ("auto", "torch", "triton"):
        raise ValueError(f"kernels ({kernels!r}) must be 'auto', 'torch' or 'triton'")


def resolve(kernels: str, tensor: torch.Tensor) -> Literal["torch", "triton"]:
    """The implementation to use for ``tensor`` under the ``kernels`` choice."""
    check_kernels(kernels)
    have_triton = triton_installed()
    if kernels == "torch":
        return "torch"
    if kernels == "auto":
        return "triton" if tensor.is_cuda and have_triton else "torch"
    if not have_triton:
        raise ValueError("kernels 'triton' needs the triton package (pip install triton)")
    if not tensor.is_cuda and not interpreting():
        raise ValueError("kernels 'triton' needs a CUDA tensor, or TRITON_INTERPRET=1 to run the kernels on the "
                         "CPU (slow: for tests)")
    return "triton"


def mse_loss(pred: torch.Tensor, target: torch.Tensor, kernels: str = "auto") -> torch.Tensor:
    """MSE through the Triton kernels or ``torch.nn.functional.mse_loss``, as `resolve` decides."""
    if resolve(kernels, pred) == "triton":
        from hpcast.kernels.mse import mse

        return mse(pred, target)
    return torch.nn.functional.mse_loss(pred, target)
