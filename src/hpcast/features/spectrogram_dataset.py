"""Spectrogram datasets larger than memory: one memory-mapped file per symbol, a JSON index, lazy reads.

It lives next to `hpcast.features.spectrogram`, whose transform and normaliser it applies to whole price
histories; the trainer reads it through `hpcast.train.batches.LoaderBatches` like any other map-style Dataset.

Layout under ``root`` (built by `build_spectrograms`):

- ``index.json``: the spectrogram config, the training cutoff, and per symbol its sample count, first and
  last date, training-sample count, a fingerprint of the prices it came from, and its per-frequency
  and target sums over training samples (so the normalisers are combined, never recomputed from every file).
- ``<symbol>.spec.npy`` ``(n, F, T)`` float32 log-magnitude spectrograms (not normalised),
  ``<symbol>.target.npy`` ``(n,)`` float32 next-day log return, ``<symbol>.dates.npy`` ``(n,)`` int64 ns.

A sample dated t sees the returns up to t; its target is the return from t to the next date, so the last
date of a series has no sample. Samples dated on or before the cutoff are training samples, later ones
validate. Building is incremental: an unchanged symbol is skipped, a symbol whose prices only gained new
days gets just the new samples appended, and a new symbol adds its own files; nothing else is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from hpcast._io import atomic_write_json
from hpcast.features.spectrogram import SpectrogramConfig, SpectrogramNormaliser, log_spectrogram, return_windows

__all__ = ["INDEX", "SpectrogramDataset", "build_spectrograms", "dataset_bytes", "in_memory_spectrograms",
           "load_index", "normaliser", "target_scale"]

INDEX = "index.json"
CHUNK = 4096  # windows transformed at a time: bounded memory whatever the series length


def _fingerprint(prices: pd.Series) -> str:
    return hashlib.sha256(prices.to_numpy(dtype=np.float64).tobytes()).hexdigest()[:16]


def load_index(root: str | Path) -> dict[str, Any]:
    path = Path(root) / INDEX
    if not path.exists():
        raise FileNotFoundError(f"no spectrogram dataset at {root} (build one with build_spectrograms)")
    return json.loads(path.read_text())


def _samples(prices: pd.Series, config: SpectrogramConfig, start: int = 0):
    """Yield ``(dates, spectrograms, targets)`` chunks for samples ``start..``; sample i's target is its next return."""
    dates, windows = return_windows(prices, config.window)
    log_prices = np.log(prices.to_numpy(dtype=np.float64))
    targets = np.diff(log_prices)[config.window:]  # return from each sample's date to the next date
    count = len(targets)  # the last window has no next return
    for first in range(start, count, CHUNK):
        last = min(first + CHUNK, count)
        spec = log_spectrogram(torch.from_numpy(windows[first:last].copy()), config)  # a writable copy
        yield dates[first:last], spec.to(torch.float32).numpy(), targets[first:last].astype(np.float32)


def _write_symbol(root: Path, symbol: str, prices: pd.Series, config: SpectrogramConfig, keep: int) -> int:
    """(Re)write ``symbol``'s files: the first ``keep`` samples copied from the old files, the rest computed."""
    _, windows = return_windows(prices, config.window)
    count = len(windows) - 1
    if count < 1:
        raise ValueError(f"{symbol}: {len(prices)} prices are too few for window {config.window} and a target")
    old = {k: np.load(root / f"{symbol}.{k}.npy", mmap_mode="r") for k in ("spec", "target", "dates")} if keep else {}
    partial = {k: root / f".{symbol}.{k}.npy.partial" for k in ("spec", "target", "dates")}
    spec = np.lib.format.open_memmap(partial["spec"], "w+", np.float32, (count, config.frequencies, config.frames))
    target = np.lib.format.open_memmap(partial["target"], "w+", np.float32, (count,))
    dates = np.lib.format.open_memmap(partial["dates"], "w+", np.int64, (count,))
    if keep:
        spec[:keep], target[:keep], dates[:keep] = old["spec"][:keep], old["target"][:keep], old["dates"][:keep]
    position = keep
    for chunk_dates, chunk_spec, chunk_target in _samples(prices, config, keep):
        stop = position + len(chunk_target)
        spec[position:stop], target[position:stop] = chunk_spec, chunk_target
        dates[position:stop] = pd.DatetimeIndex(chunk_dates).as_unit("ns").asi8
        position = stop
    for array in (spec, target, dates):
        array.flush()
    del spec, target, dates, old
    for kind, path in partial.items():
        path.replace(root / f"{symbol}.{kind}.npy")  # each file whole or not at all
    return count


def _training_sums(root: Path, symbol: str, cutoff: pd.Timestamp) -> dict[str, Any]:
    dates = np.load(root / f"{symbol}.dates.npy", mmap_mode="r")
    spec = np.load(root / f"{symbol}.spec.npy", mmap_mode="r")
    target = np.asarray(np.load(root / f"{symbol}.target.npy", mmap_mode="r"), dtype=np.float64)
    n_train = int(np.searchsorted(dates, cutoff.as_unit("ns").value, side="right"))
    total = np.zeros(spec.shape[1])
    squares = np.zeros(spec.shape[1])
    for first in range(0, n_train, CHUNK):
        block = np.asarray(spec[first:min(first + CHUNK, n_train)], dtype=np.float64)
        total += block.sum(axis=(0, 2))
        squares += (block**2).sum(axis=(0, 2))
    return {"train": n_train, "sum": total.tolist(), "sumsq": squares.tolist(), "frames": int(spec.shape[2]),
            "target_sum": float(target[:n_train].sum()), "target_sumsq": float((target[:n_train] ** 2).sum())}


def build_spectrograms(root: str | Path, prices: dict[str, pd.Series], config: SpectrogramConfig,
                       cutoff: str | pd.Timestamp,
                       progress: Callable[[str, str], None] | None = None) -> dict[str, Any]:
    """Add or update ``prices`` (symbol -> date-indexed prices) in the dataset at ``root``; return the index.

    ``cutoff`` is the last date whose samples train; it and the config must match an existing dataset.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    cutoff = pd.Timestamp(cutoff)
    index = load_index(root) if (root / INDEX).exists() else {
        "config": asdict(config), "cutoff": cutoff.date().isoformat(), "symbols": {}}
    if index["config"] != asdict(config) or index["cutoff"] != cutoff.date().isoformat():
        raise ValueError(f"{root} holds a dataset built with {index['config']} and cutoff {index['cutoff']}: "
                         "use another folder for other settings")
    for symbol, series in prices.items():
        entry = index["symbols"].get(symbol)
        fingerprint = _fingerprint(series)
        if entry and entry["fingerprint"] == fingerprint:
            action, keep = "unchanged", None
        elif (entry and len(series) > entry["prices"]
              and _fingerprint(series.iloc[:entry["prices"]]) == entry["fingerprint"]):
            action, keep = "appended", entry["samples"]  # same history, new days: keep the old samples
        else:
            action, keep = ("rebuilt" if entry else "added"), 0
        if progress:
            progress(symbol, action)
        if keep is None:
            continue
        count = _write_symbol(root, symbol, series, config, keep)
        sums = _training_sums(root, symbol, cutoff)
        dates = np.load(root / f"{symbol}.dates.npy", mmap_mode="r")
        index["symbols"][symbol] = {"samples": count, "prices": len(series), "fingerprint": fingerprint,
                                    "first": pd.Timestamp(int(dates[0])).date().isoformat(),
                                    "last": pd.Timestamp(int(dates[-1])).date().isoformat(), **sums}
        atomic_write_json(root / INDEX, index)  # after every symbol: an interrupted build keeps what it did
    atomic_write_json(root / INDEX, index)
    return index


def normaliser(index: dict[str, Any]) -> SpectrogramNormaliser:
    """Per-frequency mean and spread over every symbol's training samples, from the index's sums."""
    entries = [e for e in index["symbols"].values() if e["train"] > 0]
    if not entries:
        raise ValueError(f"no training samples on or before the cutoff {index['cutoff']}")
    count = sum(e["train"] * e["frames"] for e in entries)
    total = np.sum([e["sum"] for e in entries], axis=0)
    squares = np.sum([e["sumsq"] for e in entries], axis=0)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0) * count / max(count - 1, 1))
    return SpectrogramNormaliser(mean, np.where(std > 0, std, 1.0))


def target_scale(index: dict[str, Any]) -> tuple[float, float]:
    """Offset 0 and the root mean square of the training targets (next-day log returns) over every symbol.

    Not centred, so a network output of zero decodes to a zero return: exactly the naive forecast.
    """
    count = sum(e["train"] for e in index["symbols"].values())
    if count < 2:
        raise ValueError(f"need at least two training samples on or before the cutoff {index['cutoff']}")
    rms = float(np.sqrt(sum(e["target_sumsq"] for e in index["symbols"].values()) / count))
    return 0.0, rms if rms > 0 else 1.0


class SpectrogramDataset(Dataset):
    """Samples of the memory-mapped dataset at ``root`` (``split``: train, val or all), normalised on read.

    Inputs are scaled per frequency and targets to unit root mean square (not centred), both with
    training-span statistics from the index.

    Files are opened lazily in each process (DataLoader workers open their own), and a sample is one
    ``pread`` of exactly its bytes from the ``.npy`` file. Reading through ``np.memmap`` instead would map
    the kernel's read-around pages into every reader (measured: a 1.8 GB resident set per loader worker
    after 51k random samples of an 8 GB dataset); explicit reads keep memory bounded by the batches.
    """

    def __init__(self, root: str | Path, split: str = "train", symbols: list[str] | None = None) -> None:
        if split not in ("train", "val", "all"):
            raise ValueError(f"split ({split!r}) must be 'train', 'val' or 'all'")
        self.root = Path(root)
        self.index = load_index(self.root)
        self.norm = normaliser(self.index)
        chosen = symbols or sorted(self.index["symbols"])
        missing = sorted(set(chosen) - set(self.index["symbols"]))
        if missing:
            raise ValueError(f"symbols {missing} are not in {root}")
        self.ranges = []  # (symbol, first row, stop row)
        for symbol in chosen:
            entry = self.index["symbols"][symbol]
            first, stop = {"train": (0, entry["train"]), "val": (entry["train"], entry["samples"]),
                           "all": (0, entry["samples"])}[split]
            if stop > first:
                self.ranges.append((symbol, first, stop))
        self.offsets = np.cumsum([0] + [stop - first for _, first, stop in self.ranges])
        self._files_open: dict[str, tuple[int, int, tuple[int, ...], np.ndarray]] = {}  # fd, offset, row, targets
        self._mean = torch.as_tensor(self.norm.mean, dtype=torch.float32)[:, None]
        self._std = torch.as_tensor(self.norm.std, dtype=torch.float32)[:, None]
        self.target_mean, self.target_std = target_scale(self.index)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_files_open": {}}  # each process opens the files itself

    def __del__(self) -> None:
        for fd, *_ in getattr(self, "_files_open", {}).values():
            os.close(fd)

    def _files(self, symbol: str) -> tuple[int, int, tuple[int, ...], np.ndarray]:
        if symbol not in self._files_open:
            path = self.root / f"{symbol}.spec.npy"
            with open(path, "rb") as handle:  # where the array's bytes start, after the .npy header
                major, _ = np.lib.format.read_magic(handle)
                header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = header(handle)
                if fortran or dtype != np.float32:
                    raise ValueError(f"{path}: expected C-ordered float32, got {dtype} (fortran={fortran})")
                offset = handle.tell()
            targets = np.load(self.root / f"{symbol}.target.npy")  # small: 4 bytes per sample
            self._files_open[symbol] = (os.open(path, os.O_RDONLY), offset, tuple(shape[1:]), targets)
        return self._files_open[symbol]

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= item < len(self):
            raise IndexError(f"sample {item} is outside [0, {len(self)})")
        which = int(np.searchsorted(self.offsets, item, side="right")) - 1
        symbol, first, _ = self.ranges[which]
        row = first + item - int(self.offsets[which])
        fd, offset, shape, targets = self._files(symbol)
        size = shape[0] * shape[1] * 4  # one float32 (F, T) row
        raw = os.pread(fd, size, offset + row * size)
        spec = torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(shape)
        scaled = (float(targets[row]) - self.target_mean) / self.target_std
        return (spec - self._mean) / self._std, torch.tensor([scaled], dtype=torch.float32)


def in_memory_spectrograms(prices: dict[str, pd.Series], config: SpectrogramConfig, cutoff: str | pd.Timestamp,
                           split: str = "train", norm: SpectrogramNormaliser | None = None,
                           scale: tuple[float, float] | None = None) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """The same samples as `SpectrogramDataset`, computed straight from the prices into tensors (symbols sorted).

    Returns normalised inputs ``(N, F, T)``, scaled targets ``(N, 1)``, and ``(normaliser, (mean, std))``:
    fitted on this call's training samples unless given (pass the training call's to scale validation).
    """
    cutoff = pd.Timestamp(cutoff)
    chunks = [chunk for symbol in sorted(prices) for chunk in _samples(prices[symbol], config)]
    masks = {"train": [dates <= cutoff for dates, _, _ in chunks], "val": [dates > cutoff for dates, _, _ in chunks],
             "all": [np.ones(len(dates), bool) for dates, _, _ in chunks]}
    if norm is None or scale is None:
        train_spec = np.concatenate([spec[m] for (_, spec, _), m in zip(chunks, masks["train"], strict=True)])
        train_target = np.concatenate([t[m] for (_, _, t), m in zip(chunks, masks["train"], strict=True)])
        if len(train_target) < 2:
            raise ValueError(f"need at least two training samples on or before the cutoff {cutoff.date()}")
        norm = norm or SpectrogramNormaliser.fit(train_spec)
        wide = train_target.astype(np.float64)
        scale = scale or (0.0, float(np.sqrt(np.mean(wide**2))) or 1.0)  # not centred: 0 is naive (target_scale)
    spec = np.concatenate([s[m] for (_, s, _), m in zip(chunks, masks[split], strict=True)])
    target = np.concatenate([t[m] for (_, _, t), m in zip(chunks, masks[split], strict=True)]).astype(np.float64)
    inputs = norm.transform(torch.from_numpy(spec))  # float32 arithmetic, as the dataset does on read
    targets = torch.from_numpy((target - scale[0]) / scale[1]).float()[:, None]
    return inputs, targets, (norm, scale)


def dataset_bytes(root: str | Path) -> int:
    """Bytes of spectrogram files on disk under ``root``."""
    return sum(path.stat().st_size for path in Path(root).glob("*.npy"))


