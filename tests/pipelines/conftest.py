"""Fixtures for the pipeline tests: a working folder with its own store and registry."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the CWD, with ``HPCAST_STORE`` and ``HPCAST_DATA`` (SQLite registry) inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPCAST_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("HPCAST_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("HPCAST_TRACKING_URI", raising=False)
    return tmp_path
