"""Checkpoint averaging through a store: file:// and a real S3 API (moto server)."""

import logging

import pytest
import torch
from torch import nn

from hpcast.train.averaging import StoreAverager


def _model(value: float) -> nn.Module:
    model = nn.Linear(3, 2)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(value)
    return model


@pytest.fixture(params=["file", "s3"])
def url(request, tmp_path):
    if request.param == "file":
        return f"file://{tmp_path}/sync"
    return request.getfixturevalue("moto_s3") + f"/{tmp_path.name}"


def test_average_is_weighted_by_samples_seen(url):
    StoreAverager(url, "run1", rank=1, world_size=2).publish(_model(4.0), round_index=1, samples=300)
    model = _model(1.0)
    report = StoreAverager(url, "run1", rank=0, world_size=2, timeout=5).sync(model, round_index=1, samples=100)
    assert report.used == [0, 1] and not report.skipped
    expected = (1.0 * 100 + 4.0 * 300) / 400  # 3.25
    for parameter in model.parameters():
        torch.testing.assert_close(parameter.data, torch.full_like(parameter, expected))


def test_a_missing_checkpoint_is_skipped_after_the_timeout(url, caplog):
    model = _model(2.0)
    with caplog.at_level(logging.WARNING):
        report = StoreAverager(url, "run2", rank=0, world_size=2, timeout=0.5).sync(model, 1, samples=10)
    assert report.used == [0] and "no checkpoint within 0.5 s" in report.skipped[1]
    assert "skipped the checkpoint of worker 1" in caplog.text
    assert torch.all(model.weight == 2.0)


def test_a_corrupt_or_mismatched_checkpoint_is_skipped(url):
    averager = StoreAverager(url, "run3", rank=0, world_size=3, timeout=2)
    averager.fs.makedirs(averager._key(1, 1).rsplit("/", 1)[0], exist_ok=True)
    averager.fs.pipe_file(averager._key(1, 1), b"\x08\x00\x00\x00\x00\x00\x00\x00{not json")
    StoreAverager(url, "run3", rank=2, world_size=3).publish(nn.Linear(5, 2), 1, samples=50)
    model = _model(3.0)
    report = averager.sync(model, 1, samples=10)
    assert report.used == [0]
    assert report.skipped[1].startswith("unreadable") and "do not match" in report.skipped[2]
    assert torch.all(model.weight == 3.0)


def test_nothing_half_written_is_ever_visible(tmp_path):
    averager = StoreAverager(f"file://{tmp_path}", "run4", rank=0, world_size=1)
    averager.publish(_model(1.0), 1, samples=1)
    names = [p.name for p in (tmp_path / "run4" / "round-00001").iterdir()]
    assert names == ["rank-0000.safetensors"]  # the temporary name is gone
