"""The memory-mapped spectrogram dataset: same samples as in memory, incremental builds, seeded order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hpcast.config import TrainConfig
from hpcast.features.spectrogram import SpectrogramConfig
from hpcast.features.spectrogram_dataset import (
    SpectrogramDataset,
    build_spectrograms,
    in_memory_spectrograms,
    load_index,
    normaliser,
    target_scale,
)
from hpcast.train.batches import LoaderBatches
from hpcast.train.distributed import Distributed

CONFIG = SpectrogramConfig(window=64, n_fft=16, hop=4)
CUTOFF = "2016-06-30"


def _prices(seed: int, periods: int = 500) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(50 * np.exp(np.cumsum(rng.normal(0, 0.01, periods))),
                     index=pd.bdate_range("2015-01-01", periods=periods))


@pytest.fixture
def panel() -> dict[str, pd.Series]:
    return {"aaa": _prices(1), "bbb": _prices(2, 420), "ccc": _prices(3, 300)}


@pytest.mark.parametrize("split", ["train", "val", "all"])
def test_memory_mapped_samples_equal_the_in_memory_ones(tmp_path: Path, panel: dict, split: str) -> None:
    index = build_spectrograms(tmp_path, panel, CONFIG, CUTOFF)
    dataset = SpectrogramDataset(tmp_path, split)
    X, y, (norm, scale) = in_memory_spectrograms(panel, CONFIG, CUTOFF, split, normaliser(index), target_scale(index))
    assert len(dataset) == len(y) > 0
    mapped = torch.stack([dataset[i][0] for i in range(len(dataset))])
    targets = torch.stack([dataset[i][1] for i in range(len(dataset))])
    assert torch.equal(mapped, X) and torch.equal(targets, y)  # bit for bit
    # Fitted in memory on the training samples, the statistics agree with the index's sums.
    _, _, (fitted, fitted_scale) = in_memory_spectrograms(panel, CONFIG, CUTOFF, "train")
    np.testing.assert_allclose(fitted.mean, norm.mean, rtol=1e-9)
    np.testing.assert_allclose(fitted.std, norm.std, rtol=1e-6)
    np.testing.assert_allclose(fitted_scale, scale, rtol=1e-9)
    assert mapped.shape[1:] == (CONFIG.frequencies, CONFIG.frames)


def test_the_normaliser_sees_training_samples_only(tmp_path: Path, panel: dict) -> None:
    index = build_spectrograms(tmp_path, panel, CONFIG, CUTOFF)
    train = torch.stack([SpectrogramDataset(tmp_path, "train")[i][0] for i in range(100)])
    changed = {k: v.copy() for k, v in panel.items()}
    for series in changed.values():
        series[series.index > CUTOFF] *= 3.0  # a different future
    other = build_spectrograms(tmp_path / "other", changed, CONFIG, CUTOFF)
    np.testing.assert_allclose(normaliser(index).mean, normaliser(other).mean, rtol=1e-12)
    assert torch.equal(train, torch.stack([SpectrogramDataset(tmp_path / "other", "train")[i][0] for i in range(100)]))


def test_building_is_incremental(tmp_path: Path, panel: dict) -> None:
    seen: list[tuple[str, str]] = []
    shorter = {"aaa": panel["aaa"].iloc[:450], "bbb": panel["bbb"]}
    build_spectrograms(tmp_path, shorter, CONFIG, CUTOFF)
    before = (tmp_path / "bbb.spec.npy").stat().st_mtime_ns
    index = build_spectrograms(tmp_path, panel, CONFIG, CUTOFF, progress=lambda s, a: seen.append((s, a)))
    assert seen == [("aaa", "appended"), ("bbb", "unchanged"), ("ccc", "added")]
    assert (tmp_path / "bbb.spec.npy").stat().st_mtime_ns == before  # untouched
    fresh = build_spectrograms(tmp_path / "fresh", panel, CONFIG, CUTOFF)
    assert index["symbols"] == fresh["symbols"]
    for name in ("spec", "target", "dates"):
        assert np.array_equal(np.load(tmp_path / f"aaa.{name}.npy"), np.load(tmp_path / "fresh" / f"aaa.{name}.npy"))
    assert load_index(tmp_path)["symbols"]["aaa"]["samples"] == 500 - 64 - 1
    with pytest.raises(ValueError, match="use another folder"):
        build_spectrograms(tmp_path, panel, SpectrogramConfig(window=64, n_fft=32, hop=4), CUTOFF)


def test_same_seed_same_batches_with_0_and_2_workers(tmp_path: Path, panel: dict) -> None:
    build_spectrograms(tmp_path, panel, CONFIG, CUTOFF)
    dataset = SpectrogramDataset(tmp_path, "all")

    def batches(workers: int, epoch: int) -> list[torch.Tensor]:
        """What the trainer gets in an epoch: its seeded order, read through a DataLoader."""
        shuffle = torch.Generator().manual_seed(3)
        source = LoaderBatches(dataset, TrainConfig(loader_workers=workers, prefetch=2))
        orders = [source.epoch_order(shuffle) for _ in range(epoch + 1)]
        return [targets for _, targets, _ in source.batches(orders[-1], 64, Distributed.single())]

    serial, parallel = batches(0, 0), batches(2, 0)
    assert len(serial) == len(parallel) and all(torch.equal(a, b) for a, b in zip(serial, parallel, strict=True))
    assert not torch.equal(serial[0], batches(0, 1)[0])  # the next epoch reshuffles
