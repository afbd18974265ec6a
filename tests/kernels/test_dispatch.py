import pytest
import torch

from hpcast.kernels.dispatch import resolve


def test_auto_uses_torch_on_cpu_tensors():
    assert resolve("auto", torch.zeros(1)) == "torch"
    assert resolve("torch", torch.zeros(1)) == "torch"


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    assert resolve("triton", torch.zeros(1)) == "triton"  # the suite runs with TRITON_INTERPRET=1
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="needs a CUDA tensor, or TRITON_INTERPRET=1"):
        resolve("triton", torch.zeros(1))


def test_unknown_choice_is_named():
    with pytest.raises(ValueError, match=r"kernels \('cuda'\) must be 'auto', 'torch' or 'triton'"):
        resolve("cuda", torch.zeros(1))
