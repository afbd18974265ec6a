"""The run-folder plots: real PNGs, drawn without touching the process's matplotlib backend (a notebook that
runs a job keeps embedding its own figures)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd

from hpcast.viz.plots import loss_curve, price_with_moving_averages


def test_plots_write_pngs_and_leave_the_backend_alone(tmp_path):
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend no plot of ours would pick: Agg would hide a matplotlib.use("Agg")
    try:
        prices = pd.Series(np.linspace(100, 130, 300), index=pd.bdate_range("2020-01-01", periods=300), name="x")
        path = price_with_moving_averages(prices, tmp_path / "price.png", windows=(20, 50))
        history = [type("Record", (), {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e})() for e in (1, 2, 3)]
        curve = loss_curve(history, tmp_path / "loss.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    for png in (path, curve):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
