import pytest
import torch

from hpcast.kernels.dispatch import mse_loss
from hpcast.kernels.mse import mse, mse_reference
from tests.kernels.conftest import TOLERANCE


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(37, 53), (1,), (1823, 7), (3, 4, 5)])
def test_value_and_gradients_match_torch(shape, dtype, device):
    torch.manual_seed(1)
    pred = torch.randn(shape, dtype=dtype, device=device, requires_grad=True)
    target = torch.randn(shape, dtype=dtype, device=device, requires_grad=True)
    ours = mse(pred, target)
    grads = torch.autograd.grad(ours * 3.0, [pred, target])  # a non-unit upstream gradient
    reference = mse_reference(pred, target)
    ref_grads = torch.autograd.grad(reference * 3.0, [pred, target])
    torch.testing.assert_close(ours, reference, **TOLERANCE[dtype])
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, **TOLERANCE[dtype])


@pytest.mark.parametrize("n", [10_001, 10_048])
def test_persistent_grid_strides_over_many_tiles(n, device):
    """5 programs over 157 tiles of 64 (the last partial for 10 001, full for 10 048 = 157 · 64): every
    element is counted once in the value and written once in the gradient."""
    torch.manual_seed(4)
    pred = torch.randn(n, dtype=torch.float64, device=device, requires_grad=True)
    target = torch.randn(n, dtype=torch.float64, device=device)
    ours = mse(pred, target, block=64, programs=5)
    (grad,) = torch.autograd.grad(ours, [pred])
    reference = mse_reference(pred, target)
    (ref_grad,) = torch.autograd.grad(reference, [pred])
    torch.testing.assert_close(ours, reference, **TOLERANCE[torch.float64])
    torch.testing.assert_close(grad, ref_grad, **TOLERANCE[torch.float64])


def test_dispatch():
    pred, target = torch.randn(8, 3, requires_grad=True), torch.randn(8, 3)
    torch.testing.assert_close(mse_loss(pred, target, "triton"), mse_reference(pred, target))
    torch.testing.assert_close(mse_loss(pred, target, "auto"), mse_reference(pred, target))


def test_errors_say_expected_and_actual():
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        mse(torch.zeros(2), torch.zeros(3))
    huge = torch.zeros(1).expand(2**31)  # no memory behind it: refused before any copy or launch
    with pytest.raises(ValueError, match=r"pred spans 2147483648 elements; the kernels index with 32-bit offsets"):
        mse(huge, huge)
    with pytest.raises(ValueError, match="float32/float64 dtype"):
        mse(torch.zeros(2, dtype=torch.int64), torch.zeros(2, dtype=torch.int64))
