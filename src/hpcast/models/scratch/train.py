"""One training loop for every from-scratch implementation: tasks, minibatches, clipping, SGD and Adam.

The loop, the data, the batch order and the optimiser are shared, and only ``loss_and_grad`` differs
between implementations. So equal per-epoch losses mean the implementations compute the same numbers.

Tasks (from one series, scaled with statistics of the training span only):
- ``regression``: the next min-max-scaled value (MSE);
- ``classification``: the next change bucketed into ``classes`` equally populated bins, with edges taken
  from the training span's changes (the seed study's "change encoded" task; cross-entropy).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from hpcast.models.scratch.params import Layout, init_params, make_layout

__all__ = ["IMPLEMENTATIONS", "ScratchConfig", "Task", "implementation", "make_task", "train_scratch"]

IMPLEMENTATIONS = ("numpy", "numpy-per-sample", "numba", "numba-cuda", "torch")


class Implementation(Protocol):
    def loss_and_grad(self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray,
                      loss: str) -> tuple[float, np.ndarray]: ...


TaskKind = Literal["regression", "classification"]
Optimizer = Literal["adam", "sgd"]
Dtype = Literal["float64", "float32"]


@dataclass(frozen=True)
class ScratchConfig:
    hidden: tuple[int, ...] = (50,)
    window: int = 12
    task: TaskKind = "regression"
    classes: int = 3
    epochs: int = 5
    batch_size: int = 32
    optimizer: Optimizer = "adam"
    lr: float = 0.01
    clip_norm: float = 5.0
    val_fraction: float = 0.2
    seed: int = 1
    dtype: Dtype = "float64"

    def __post_init__(self) -> None:
        if self.window < 1 or self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"window ({self.window}), epochs ({self.epochs}) and batch_size ({self.batch_size}) "
                             "must be >= 1")
        if self.task == "classification" and self.classes < 2:
            raise ValueError(f"classes ({self.classes}) must be >= 2")


@dataclass(frozen=True)
class Task:
    """Windows ``X (N, T, 1)`` and targets ``Y (N, O)`` (one-hot for classification), split by time."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_val: np.ndarray
    Y_val: np.ndarray
    loss: str
    info: dict[str, object] = field(default_factory=dict)


def make_task(values: np.ndarray, config: ScratchConfig) -> Task:
    """Window a series into a regression or classification task; scaling and bins use training targets only."""
    values = np.asarray(values, dtype=np.float64)
    T = config.window
    n = len(values) - T
    if n < 4:
        raise ValueError(f"series of {len(values)} points is too short for window ({T})")
    n_val = max(1, round(n * config.val_fraction))
    n_train = n - n_val
    cutoff = n_train + T  # values[:cutoff] are all the training windows touch
    low, high = values[:cutoff].min(), values[:cutoff].max()
    scaled = (values - low) / (high - low if high > low else 1.0)
    X = np.lib.stride_tricks.sliding_window_view(scaled, T)[:n, :, None].copy()  # (N, T, 1)
    if config.task == "regression":
        Y, loss, info = scaled[T:, None].copy(), "mse", {"scaled_min": low, "scaled_max": high}
    else:
        changes = np.diff(values)[T - 1:]  # change into each target, (N,)
        edges = np.quantile(changes[:n_train], np.linspace(0, 1, config.classes + 1)[1:-1])
        Y = np.eye(config.classes)[np.searchsorted(edges, changes, side="right")]
        loss, info = "ce", {"bin_edges": edges.tolist()}
    dtype = np.dtype(config.dtype)
    return Task(X[:n_train].astype(dtype), Y[:n_train].astype(dtype), X[n_train:].astype(dtype),
                Y[n_train:].astype(dtype), loss, info)


def implementation(name: str, layout: Layout) -> Implementation:
    """Build the named implementation (heavy imports happen here, on demand)."""
    if name in ("numpy", "numpy-per-sample"):
        from hpcast.models.scratch import numpy_lstm

        fn = numpy_lstm.loss_and_grad if name == "numpy" else numpy_lstm.loss_and_grad_per_sample

        class _NumPy:
            def loss_and_grad(self, theta, X, Y, loss):
                return fn(theta, layout, X, Y, loss)

        return _NumPy()
    if name == "numba":
        from hpcast.models.scratch.numba_lstm import NumbaLSTM

        return NumbaLSTM(layout)
    if name == "numba-cuda":
        from hpcast.models.scratch.cuda_lstm import CudaLSTM

        return CudaLSTM(layout)
    if name == "torch":
        from hpcast.models.scratch.torch_lstm import TorchLSTM

        return TorchLSTM(layout)
    raise ValueError(f"impl ({name!r}) must be one of {', '.join(IMPLEMENTATIONS)}")


@dataclass
class _Adam:
    lr: float
    m: np.ndarray
    v: np.ndarray
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    step: int = 0

    def update(self, theta: np.ndarray, grad: np.ndarray) -> None:
        self.step += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1 - self.beta2) * grad * grad
        m_hat = self.m / (1 - self.beta1 ** self.step)
        v_hat = self.v / (1 - self.beta2 ** self.step)
        theta -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(theta.dtype)


def _validation_loss(impl: Implementation, theta: np.ndarray, task: Task) -> float:
    if hasattr(impl, "loss"):  # forward-only path where the implementation has one
        return impl.loss(theta, task.X_val, task.Y_val, task.loss)
    return impl.loss_and_grad(theta, task.X_val, task.Y_val, task.loss)[0]


def train_scratch(impl_name: str, task: Task, config: ScratchConfig,
                  on_epoch: Callable[[dict[str, float]], None] | None = None
                  ) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Train from ``init_params(seed)``; returns the final ``theta`` and per-epoch train/validation loss.

    The train loss of an epoch is the mean of its minibatch losses, each computed before that step's update.
    """
    layout = make_layout(task.X_train.shape[2], config.hidden, task.Y_train.shape[1])
    impl = implementation(impl_name, layout)
    theta = init_params(layout, config.seed, dtype=np.dtype(config.dtype).type)
    adam = _Adam(config.lr, np.zeros_like(theta), np.zeros_like(theta))
    order_rng = np.random.default_rng(config.seed)
    n, history = len(task.X_train), []
    for epoch in range(1, config.epochs + 1):
        started, total = time.perf_counter(), 0.0
        order = order_rng.permutation(n)
        for start in range(0, n, config.batch_size):
            index = np.sort(order[start:start + config.batch_size])
            value, grad = impl.loss_and_grad(theta, task.X_train[index], task.Y_train[index], task.loss)
            total += value * len(index)
            norm = float(np.sqrt(np.sum(grad.astype(np.float64) ** 2)))
            if config.clip_norm > 0 and norm > config.clip_norm:
                grad = grad * (config.clip_norm / norm)
            if config.optimizer == "adam":
                adam.update(theta, grad)
            else:
                theta -= (config.lr * grad).astype(theta.dtype)
        seconds = time.perf_counter() - started  # the training steps only, not the validation pass
        record = {"epoch": epoch, "train_loss": total / n, "val_loss": _validation_loss(impl, theta, task),
                  "seconds": seconds}
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return theta, history
