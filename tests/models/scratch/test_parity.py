"""Every from-scratch implementation against independent references (finite differences, torch autograd)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from hpcast.models.scratch.numpy_lstm import loss_and_grad, loss_and_grad_per_sample, predict
from hpcast.models.scratch.params import from_torch, init_params, make_layout, to_torch
from hpcast.models.scratch.torch_lstm import TorchLSTM

SHAPES = [((3, 7, 2), (5, 4), 2), ((4, 6, 1), (3,), 3), ((2, 9, 3), (2, 6, 3), 1)]  # (B, T, F), hidden, O


def _problem(shape, hidden, out, loss, seed=0, dtype=np.float64):
    B, _, F = shape
    layout = make_layout(F, hidden, out)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=shape).astype(dtype)
    Y = rng.normal(size=(B, out)) if loss == "mse" else np.eye(out)[rng.integers(0, out, B)]
    return layout, init_params(layout, seed, dtype=dtype), X, Y.astype(dtype)


@pytest.mark.parametrize(("shape", "hidden", "out", "loss"),
                         [(*case, loss) for case in SHAPES for loss in ("mse", "ce") if loss == "mse" or case[2] > 1])
def test_gradient_matches_central_finite_differences(shape, hidden, out, loss):
    layout, theta, X, Y = _problem(shape, hidden, out, loss)
    _, grad = loss_and_grad(theta, layout, X, Y, loss)
    eps, numeric = 1e-5, np.empty_like(theta)
    for p in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[p] += eps
        down[p] -= eps
        numeric[p] = (loss_and_grad(up, layout, X, Y, loss)[0] - loss_and_grad(down, layout, X, Y, loss)[0]) / (2 * eps)
    assert np.linalg.norm(numeric - grad) / np.linalg.norm(numeric) < 1e-6
    # elementwise too, above the finite differences' own round-off (~1e-16 / eps in absolute terms)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize(("shape", "hidden", "out"), SHAPES[:2])
def test_forward_and_gradients_match_torch_autograd(shape, hidden, out, loss):
    layout, theta, X, Y = _problem(shape, hidden, out, loss, seed=3)
    reference = TorchLSTM(layout)
    np.testing.assert_allclose(predict(theta, layout, X), reference.predict(theta, X), rtol=1e-10, atol=1e-13)
    value, grad = loss_and_grad(theta, layout, X, Y, loss)
    ref_value, ref_grad = reference.loss_and_grad(theta, X, Y, loss)
    assert value == pytest.approx(ref_value, rel=1e-10)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13 * np.abs(ref_grad).max())


def test_weights_convert_both_ways_in_pytorch_gate_order():
    layout = make_layout(2, (4, 3), 1)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 4, batch_first=True).double()
    net = TorchLSTM(layout)
    with torch.no_grad():
        for name, value in lstm.named_parameters():
            net.lstm[0].get_parameter(name).copy_(value)
    theta = from_torch(dict(net.state_dict()), layout)
    assert np.array_equal(from_torch(to_torch(theta, layout), layout), theta)
    w_ih = layout.views(theta)[0][0][0]
    assert np.array_equal(w_ih[4:8], lstm.weight_ih_l0.detach().numpy()[4:8])  # forget-gate rows stay put


def test_per_sample_version_equals_the_batched_one():
    layout, theta, X, Y = _problem((5, 6, 2), (4,), 2, "mse")
    value, grad = loss_and_grad(theta, layout, X, Y)
    value_1, grad_1 = loss_and_grad_per_sample(theta, layout, X, Y)
    assert value_1 == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(grad_1, grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_numba_matches_numpy_and_ignores_the_thread_count(loss):
    import numba

    from hpcast.models.scratch.numba_lstm import NumbaLSTM

    layout, theta, X, Y = _problem((11, 8, 2), (5, 3), 3, loss, seed=5)
    impl = NumbaLSTM(layout, chunk=3)
    value, grad = loss_and_grad(theta, layout, X, Y, loss)
    results = {}
    for threads in (1, 2):
        numba.set_num_threads(threads)
        results[threads] = impl.loss_and_grad(theta, X, Y, loss)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert results[1][0] == results[2][0] and np.array_equal(results[1][1], results[2][1])
    assert results[1][0] == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(results[1][1], grad, rtol=1e-12, atol=1e-14 * np.abs(grad).max())
    assert impl.loss(theta, X, Y, loss) == results[1][0]


def test_float32_versions_agree_within_float32_precision():
    from hpcast.models.scratch.numba_lstm import NumbaLSTM

    layout, theta, X, Y = _problem((6, 5, 1), (4,), 1, "mse", dtype=np.float32)
    value, grad = loss_and_grad(theta, layout, X, Y)
    value_n, grad_n = NumbaLSTM(layout).loss_and_grad(theta, X, Y)
    assert grad.dtype == grad_n.dtype == np.float32
    assert value_n == pytest.approx(value, rel=1e-5)
    np.testing.assert_allclose(grad_n, grad, rtol=1e-4, atol=1e-6)


def test_numba_cuda_matches_numpy_under_the_simulator():
    """Under NUMBA_ENABLE_CUDASIM (set before numba loads, hence a subprocess); a tiny problem: it is slow."""
    code = (
        "import json; from hpcast.models.scratch.train import ScratchConfig, make_task, train_scratch\n"
        "from hpcast.data import load_bundled\n"
        "config = ScratchConfig(hidden=(3,), window=4, epochs=2, batch_size=16, seed=2)\n"
        "task = make_task(load_bundled('air_passengers').series().to_numpy()[:40], config)\n"
        "print(json.dumps({n: train_scratch(n, task, config)[1] for n in ('numpy', 'numba-cuda')}))\n")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    for ours, reference in zip(runs["numba-cuda"], runs["numpy"], strict=True):
        for key in ("train_loss", "val_loss"):
            assert ours[key] == pytest.approx(reference[key], rel=1e-10)


@pytest.mark.gpu
def test_numba_cuda_on_a_real_gpu():
    from numba import cuda

    if not cuda.is_available() or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("no CUDA GPU")
    from hpcast.models.scratch.cuda_lstm import CudaLSTM

    layout, theta, X, Y = _problem((300, 30, 1), (50,), 1, "mse", seed=7)
    value, grad = loss_and_grad(theta, layout, X, Y)
    value_g, grad_g = CudaLSTM(layout).loss_and_grad(theta, X, Y)
    assert value_g == pytest.approx(value, rel=1e-10)
    np.testing.assert_allclose(grad_g, grad, rtol=1e-9, atol=1e-12 * np.abs(grad).max())
