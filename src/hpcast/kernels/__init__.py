"""Custom Triton kernels (min-max scaling, MSE, a fused LSTM layer) and the dispatch that picks them.

Only `dispatch` is imported here; the kernel modules import Triton, so import them directly
(``from hpcast.kernels.lstm import FusedLSTM``) where Triton is installed.
"""

from hpcast.kernels.dispatch import Kernels, interpreting, mse_loss, resolve

__all__ = ["Kernels", "interpreting", "mse_loss", "resolve"]
