import copy
import re

import pytest
import torch

from hpcast.kernels import lstm as lstm_module
from hpcast.kernels.lstm import FusedLSTM, lstm_layer, lstm_refusal, lstm_stack, pick_lstm_kernels, plan_lstm
from tests.kernels.conftest import lstm_tolerances


def _pair(I, H, dtype, device, seed=0):
    torch.manual_seed(seed)
    reference = torch.nn.LSTM(I, H, batch_first=True).to(dtype=dtype, device=device)
    fused = FusedLSTM(I, H, kernels="triton").to(dtype=dtype, device=device)
    fused.load_state_dict(reference.state_dict())
    return reference, fused


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("B", "T", "I", "H"), [(37, 5, 3, 53), (4, 7, 1, 16), (20, 3, 2, 9)])
def test_values_and_gradients_match_nn_lstm(B, T, I, H, dtype, device):
    """Float32 results are checked against float64 truth (nn.LSTM in float64 from the same weights and
    inputs), so no CPU's own float32 rounding is the yardstick; float64 against nn.LSTM in float64."""
    reference, fused = _pair(I, H, dtype, device)
    truth = copy.deepcopy(reference).double()
    generator = torch.Generator().manual_seed(B * 1000 + T * 100 + I * 10 + H)
    x = torch.randn(B, T, I, generator=generator, dtype=torch.float64).to(device)
    x_low = x.to(dtype).requires_grad_()
    x = x.requires_grad_()
    (out_t, (h_t, c_t)), (out_f, (h_f, c_f)) = truth(x), fused(x_low)
    weights = [torch.randn(t.shape, generator=generator, dtype=torch.float64).to(device) for t in (out_t, h_t, c_t)]
    forward, backward = lstm_tolerances(truth, x, weights, dtype)
    for got, want in ((out_f, out_t), (h_f, h_t), (c_f, c_t)):
        torch.testing.assert_close(got.double(), want, **forward)

    def grads(layer, inputs, out, h, c):
        loss = sum((w.to(t.dtype) * t).sum() for w, t in zip(weights, (out, h, c), strict=True))
        return torch.autograd.grad(loss, [inputs, *layer.parameters()])

    for got, want in zip(grads(fused, x_low, out_f, h_f, c_f), grads(truth, x, out_t, h_t, c_t), strict=True):
        torch.testing.assert_close(got.double(), want, **backward)


def test_outputs_are_all_written(device, monkeypatch):
    """Every buffer the layer allocates starts as NaN: an element a kernel forgets to write shows up."""
    reference, fused = _pair(2, 19, torch.float64, device)
    x = torch.randn(17, 4, 2, dtype=torch.float64, device=device, requires_grad=True)
    expected_out = reference(x)[0]
    expected_grads = torch.autograd.grad(expected_out.sum(), [x, *reference.parameters()])
    empty, empty_like = torch.empty, torch.empty_like

    def poison(tensor):
        return tensor.fill_(float("nan")) if tensor.is_floating_point() else tensor

    monkeypatch.setattr(torch, "empty", lambda *a, **k: poison(empty(*a, **k)))
    monkeypatch.setattr(torch, "empty_like", lambda *a, **k: poison(empty_like(*a, **k)))
    out, (_, c_n) = fused(x)
    grads = torch.autograd.grad(out.sum(), [x, *fused.parameters()])
    assert torch.isfinite(c_n).all()
    torch.testing.assert_close(out, expected_out)
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want)


def test_drop_in_state_dict_and_torch_fallback():
    torch.manual_seed(3)
    fused = FusedLSTM(3, 8, kernels="torch")
    plain = torch.nn.LSTM(3, 8, batch_first=True)
    plain.load_state_dict(fused.state_dict())
    x = torch.randn(5, 6, 3)
    assert torch.equal(fused(x)[0], plain(x)[0])


def test_errors_say_expected_and_actual():
    with pytest.raises(ValueError, match=r"x must be \(B, T, I\), got shape \(3, 4\)"):
        lstm_layer(torch.zeros(3, 4), torch.zeros(8, 4), torch.zeros(8, 2), torch.zeros(8), torch.zeros(8))
    with pytest.raises(ValueError, match=r"weights must be W_ih \(4H, I\) and W_hh \(4H, H\); got \(8, 1\) and "
                                         r"\(8, 3\) for input size 1"):
        lstm_layer(torch.zeros(1, 2, 1), torch.zeros(8, 1), torch.zeros(8, 3), torch.zeros(8), torch.zeros(8))


@pytest.mark.parametrize(("B", "T", "H", "dtype", "message"), [
    (2, 3, 1025, torch.float32, r"hidden size H \(1025\) must be <= 1024 for the Triton LSTM"),
    (2, 3, 8, torch.float16, r"dtype \(torch.float16\) must be torch.float32 or torch.float64 for the Triton LSTM"),
    (2, 0, 8, torch.float32, r"time steps T \(0\) must be >= 1 for the Triton LSTM"),
    (0, 3, 8, torch.float64, r"batch size B \(0\) must be >= 1 for the Triton LSTM"),
    (2**20, 2**9, 1024, torch.float32, r"B·T·4H \(2199023255552\) must be < 2\^31"),
])
def test_the_launcher_refuses_what_it_cannot_run_before_compiling(B, T, H, dtype, message):
    """The rule, and the launcher raising it on meta tensors (no data: any compile or launch would fail
    differently), so it is checked before Triton sees the shape."""
    assert re.search(message, lstm_refusal(B, T, H, dtype))
    meta = {"device": "meta", "dtype": dtype}
    weights = (torch.empty(1, 4 * H, 1, **meta), torch.empty(1, 4 * H, H, **meta), torch.empty(1, 4 * H, **meta),
               torch.empty(1, 4 * H, **meta))
    with pytest.raises(ValueError, match=message):
        lstm_stack(torch.empty(1, B, T, 1, **meta), *weights)


def test_shapes_it_can_run_are_not_refused():
    assert lstm_refusal(1, 1, 1, torch.float64) is None
    assert lstm_refusal(1024, 100, 1024, torch.float32) is None


def test_auto_falls_back_to_nn_lstm_for_a_refused_shape_and_triton_raises():
    refusal = lstm_refusal(32, 100, 2048, torch.float32)
    assert pick_lstm_kernels("auto", "triton", refusal) == "torch"
    assert pick_lstm_kernels("triton", "triton", refusal) == "triton"  # the launcher then raises the refusal
    assert pick_lstm_kernels("auto", "triton", None) == "triton"
    assert pick_lstm_kernels("auto", "torch", None) == "torch"
    with pytest.raises(ValueError, match=r"dtype \(torch.float16\) must be torch.float32 or torch.float64"):
        FusedLSTM(1, 4, kernels="triton").half()(torch.zeros(2, 3, 1, dtype=torch.float16))


@pytest.mark.parametrize(("H", "dtype", "variant"), [
    (16, torch.float32, "resident"), (64, torch.float32, "resident"), (65, torch.float32, "tiled"),
    (32, torch.float64, "resident"), (33, torch.float64, "tiled"), (1024, torch.float32, "tiled")])
def test_plan_keeps_resident_weights_within_the_register_budget(H, dtype, variant):
    assert plan_lstm(H, dtype).variant == variant


def test_plan_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"variant \('fast'\) must be 'auto', 'resident' or 'tiled'"):
        plan_lstm(8, torch.float32, "fast")
    with pytest.raises(ValueError, match=r"variant 'resident' needs H padded to a power of two \(128\) <= 64 for "
                                         r"torch.float32"):
        plan_lstm(100, torch.float32, "resident")
    with pytest.raises(ValueError, match=r"tiles BLOCK_J \(24\) must be a power of two >= 16"):
        plan_lstm(100, torch.float32, "tiled", (16, 24))


def test_the_budget_table_states_the_plan():
    """Each row of the module docstring's table names the variant `plan_lstm` picks for its H."""
    rows = re.findall(r"^\| +(\d+) \| +(\w+) +\|", lstm_module.__doc__, flags=re.MULTILINE)
    assert [int(h) for h, _ in rows] == [32, 50, 64, 100, 120, 128, 256, 512, 1024]
    for h, variant in rows:
        assert plan_lstm(int(h), torch.float32).variant == variant


@pytest.mark.gpu
@pytest.mark.parametrize(("B", "T", "H"), [(32, 100, 50), (256, 100, 128), (1024, 60, 120)])
def test_seed_shapes_on_a_gpu(B, T, H):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    reference, fused = _pair(1, H, torch.float32, "cuda")
    x = torch.randn(B, T, 1, device="cuda", requires_grad=True)
    torch.testing.assert_close(fused(x)[0], reference(x)[0], rtol=1e-4, atol=1e-5)


def test_output_layout_matches_nn_lstm_so_dropout_masks_match(device):
    """nn.LSTM returns a (T, B, H) buffer viewed as (B, T, H); dropout draws in memory order, so the
    fused layer must return the same layout for the same seed to give the same masks."""
    reference, fused = _pair(1, 6, torch.float64, device)
    x = torch.randn(16, 8, 1, dtype=torch.float64, device=device)
    outputs = [layer(x)[0] for layer in (reference, fused)]
    assert outputs[0].stride() == outputs[1].stride()
    dropped = []
    for out in outputs:
        torch.manual_seed(1)
        dropped.append(torch.nn.functional.dropout(out, 0.3, training=True))
    torch.testing.assert_close(dropped[1], dropped[0])


_COMPILE_FOR_HOPPER = r"""
import json, os, re, subprocess, sys, tempfile
import torch, triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from hpcast.kernels import lstm

H, dtype = int(sys.argv[1]), getattr(torch, sys.argv[2])
plan = lstm.plan_lstm(H, dtype)
ptxas = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "ptxas-blackwell")
report = {}
for direction in ("forward", "backward"):
    fn = getattr(lstm, f"_{direction}_{plan.variant}_kernel")
    sizes = {"HP": plan.hp} if plan.variant == "resident" else {"BLOCK_K": plan.block_k, "BLOCK_J": plan.block_j}
    constants = {"BLOCK_B": lstm.BLOCK_B, "PRECISION": "ieee", **sizes}
    pointer = "*fp64" if dtype == torch.float64 else "*fp32"
    signature = {n: "constexpr" if n in constants else "i32" if n in "BTH" else pointer for n in fn.arg_names}
    kernel = triton.compile(ASTSource(fn, signature, constexprs=constants), target=GPUTarget("cuda", 90, 32),
                            options={"num_warps": plan.num_warps})
    with tempfile.NamedTemporaryFile("w", suffix=".ptx") as ptx:
        ptx.write(kernel.asm["ptx"])
        ptx.flush()
        log = subprocess.run([ptxas, "-v", "--gpu-name=sm_90a", ptx.name, "-o", os.devnull], capture_output=True,
                             text=True, check=True).stderr
    report[direction] = {"registers": int(re.search(r"Used (\d+) registers", log)[1]),
                         "spill": int(re.search(r"(\d+) bytes spill stores", log)[1]), "shared": kernel.metadata.shared}
print(json.dumps(report))
"""


@pytest.mark.parametrize(("H", "dtype"), [(64, torch.float32), (1024, torch.float32), (256, torch.float64)])
def test_planned_kernels_compile_for_hopper_without_spilling(H, dtype):
    """The budget is checked, not assumed: each planned variant is compiled for sm_90 (Triton's own ptxas runs
    on a CPU machine; nothing is launched) and must neither spill registers nor ask for more shared memory
    than one block may have (227 KiB)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import triton

    if not (Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas-blackwell").exists():
        pytest.skip("this Triton build ships no ptxas")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"} | {"TRITON_DEFAULT_FP_FUSION": "1"}
    done = subprocess.run([sys.executable, "-c", _COMPILE_FOR_HOPPER, str(H), str(dtype).removeprefix("torch.")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for direction, usage in json.loads(done.stdout).items():
        assert usage["spill"] == 0, (direction, usage)
        assert usage["registers"] <= 255 and usage["shared"] <= 227 * 1024, (direction, usage)


def test_bias_gradients_are_separate_tensors(device):
    """Gradient clipping scales each .grad in place, so the two bias gradients (equal in value) must not share
    memory: one scaled twice once made Triton training drift from torch's by 3e-4."""
    _, fused = _pair(2, 6, torch.float64, device)
    fused(torch.randn(3, 4, 2, dtype=torch.float64, device=device))[0].sum().backward()
    assert torch.equal(fused.bias_ih_l0.grad, fused.bias_hh_l0.grad)
    fused.bias_ih_l0.grad.mul_(0.5)
    torch.testing.assert_close(fused.bias_ih_l0.grad, 0.5 * fused.bias_hh_l0.grad)
