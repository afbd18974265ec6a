"""The STFT against scipy and a pure sine, and the lookahead guarantee of spectrogram samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import signal

from hpcast.features.spectrogram import FLOOR, SpectrogramConfig, SpectrogramNormaliser, log_spectrogram, return_windows


def test_a_pure_sine_peaks_at_its_frequency_bin_in_every_frame() -> None:
    config = SpectrogramConfig(window=256, n_fft=64, hop=8)
    n = np.arange(256)
    sine = torch.from_numpy(np.sin(2 * np.pi * 5 * n / 64))  # 5 cycles per 64 samples: bin 5
    spectrogram = log_spectrogram(sine, config)
    assert spectrogram.shape == (config.frequencies, config.frames) == (33, 25)
    assert (spectrogram.argmax(dim=0) == 5).all()


@pytest.mark.parametrize("taper", ["hann", "hamming", "blackman"])
def test_matches_scipy_signal_stft(taper: str) -> None:
    config = SpectrogramConfig(window=128, n_fft=32, hop=4, taper=taper)
    x = np.random.default_rng(0).normal(0, 0.01, (3, 128))
    ours = log_spectrogram(torch.from_numpy(x), config).numpy()
    window = signal.get_window(taper, 32)  # periodic, as torch's
    _, _, reference = signal.stft(x, window=window, nperseg=32, noverlap=32 - 4, boundary=None, padded=False,
                                  detrend=False, scaling="spectrum")
    magnitude = np.abs(reference) * window.sum()  # scipy divides by the window's sum; torch does not
    np.testing.assert_allclose(ours, np.log(magnitude + FLOOR), rtol=1e-10, atol=1e-10)


def test_prices_after_a_sample_leave_its_spectrogram_unchanged() -> None:
    rng = np.random.default_rng(1)
    dates = pd.bdate_range("2015-01-01", periods=400)
    prices = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400))), index=dates)
    config = SpectrogramConfig(window=128, n_fft=32, hop=8)
    sample_dates, windows = return_windows(prices, 128)
    cut = 200  # sample dated sample_dates[cut]
    perturbed = prices.copy()
    perturbed[perturbed.index > sample_dates[cut]] *= np.exp(rng.normal(0, 0.2, int((dates > sample_dates[cut]).sum())))
    _, changed = return_windows(perturbed, 128)
    before = log_spectrogram(torch.from_numpy(windows[: cut + 1].copy()), config)
    after = log_spectrogram(torch.from_numpy(changed[: cut + 1].copy()), config)
    assert torch.equal(before, after)
    assert not torch.equal(log_spectrogram(torch.from_numpy(windows[cut + 1:cut + 2].copy()), config),
                           log_spectrogram(torch.from_numpy(changed[cut + 1:cut + 2].copy()), config))


def test_the_normaliser_uses_only_what_it_is_given() -> None:
    train = torch.randn(50, 5, 7, dtype=torch.float64) * 3 + 2
    normaliser = SpectrogramNormaliser.fit(train)
    scaled = normaliser.transform(train)
    flat = scaled.permute(1, 0, 2).reshape(5, -1)
    np.testing.assert_allclose(flat.mean(dim=1).numpy(), 0, atol=1e-12)
    np.testing.assert_allclose(flat.std(dim=1).numpy(), 1, atol=1e-12)
    again = SpectrogramNormaliser.from_dict(normaliser.to_dict())
    assert torch.equal(again.transform(train), scaled)
    with pytest.raises(ValueError, match="n_fft"):
        SpectrogramConfig(window=16, n_fft=32)
