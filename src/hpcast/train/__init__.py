"""Training: the loop only (`trainer`), its batch sources (`batches`), its run infrastructure
(`context.RunContext`), checkpoints, multi-worker strategies (`distributed`, `averaging`) and progress.

The estimators that use it live in `hpcast.forecast`. Submodules import torch, so import them directly:
``from hpcast.train.trainer import train``.
"""

__all__: list[str] = []
