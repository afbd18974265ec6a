"""The feature store against hand-computed values, pandas references and real processes (kill -9, races)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpcast.store import FeatureStore, StoreError
from hpcast.store.derived import MA_WINDOWS

T0 = datetime(2024, 1, 2, 12, tzinfo=UTC)
TODAY = date(2024, 1, 2)


def prices(symbol: str, start: str = "2020-01-01", periods: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, periods)))
    return pd.DataFrame({"symbol": symbol, "date": pd.bdate_range(start, periods=periods), "open": close * 0.999,
                         "high": close * 1.01, "low": close * 0.99, "close": close, "adj_close": close,
                         "volume": 1000.0})


def register(store: FeatureStore, *symbols: str, group: str = "prices", freq: str = "B") -> None:
    store.register(pd.DataFrame({"symbol": list(symbols), "group": group, "description": "test",
                                 "source": "test", "freq": freq}), now=T0 - timedelta(days=30))


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    store = FeatureStore(str(tmp_path / "store"))
    register(store, "aaa", "bbb")
    return store


def test_upsert_then_read_round_trips_values(store: FeatureStore) -> None:
    frame = prices("aaa")
    report = store.upsert("prices", frame, now=T0, today=TODAY)
    assert (report.written, report.unchanged, len(report.rejected), report.version) == (300, 0, 0, 1)
    back = store.read("aaa")
    pd.testing.assert_frame_equal(back.drop(columns="ingested_at"), frame, check_dtype=False)
    assert (back["ingested_at"] == pd.Timestamp(T0)).all()
    between = store.read("aaa", "2020-02-03", "2020-02-07")
    assert list(between["date"].dt.day) == [3, 4, 5, 6, 7]


def test_same_rows_again_change_nothing(store: FeatureStore) -> None:
    store.upsert("prices", prices("aaa"), now=T0, today=TODAY)
    before = {g: store.content_hash(g) for g in ("prices", "returns", "moving_averages")}
    commits = len(store.table("prices").commits())
    report = store.upsert("prices", prices("aaa"), now=T0 + timedelta(hours=1), today=TODAY)
    assert (report.written, report.unchanged, report.version, report.changed) == (0, 300, None, False)
    assert {g: store.content_hash(g) for g in before} == before
    assert len(store.table("prices").commits()) == commits


def test_revision_is_a_new_version_invisible_to_earlier_as_of_reads(store: FeatureStore) -> None:
    store.upsert("prices", prices("aaa"), now=T0, today=TODAY)
    revised = prices("aaa").iloc[[150]].assign(close=1234.5, adj_close=1234.5, high=1300.0)
    t1 = T0 + timedelta(days=1)
    report = store.upsert("prices", revised, now=t1, today=TODAY)
    assert report.written == 1
    day = revised["date"].iloc[0]
    assert store.read("aaa", day, day, as_of=t1 - timedelta(seconds=1))["close"].item() != 1234.5
    assert store.read("aaa", day, day, as_of=t1)["close"].item() == 1234.5
    assert store.read("aaa", day, day)["close"].item() == 1234.5
    assert store.read("aaa", as_of=T0 - timedelta(seconds=1)).empty  # nothing was known before the backfill
    # what a model reads (the dataset as of a moment) sees the old value before the revision, the new one after
    old = store.dataset("aaa", as_of=t1 - timedelta(seconds=1)).series()
    new = store.dataset("aaa").series()
    assert old[day] != 1234.5 and new[day] == 1234.5
    assert len(old) == len(new) == 300
    with pytest.raises(StoreError, match="symbol 'aaa' has no rows as of"):
        store.dataset("aaa", as_of=T0 - timedelta(seconds=1))


def test_a_dataset_is_the_symbols_stored_series(store: FeatureStore) -> None:
    frame = prices("aaa")
    store.upsert("prices", frame, now=T0, today=TODAY)
    data = store.dataset("aaa")
    assert (data.name, data.freq, data.target) == ("aaa", "B", "adj_close")
    series = data.series()
    np.testing.assert_array_equal(series.to_numpy(), frame["adj_close"].to_numpy())
    assert series.index.equals(pd.DatetimeIndex(frame["date"]))
    with pytest.raises(StoreError, match="symbol 'bbb' has no rows"):
        store.dataset("bbb")
    with pytest.raises(StoreError, match=r"symbol \('ccc'\) must be one of the store's: aaa, bbb"):
        store.dataset("ccc")


def test_a_dataset_falls_back_to_close_where_adj_close_is_missing(store: FeatureStore) -> None:
    frame = prices("bbb", periods=30)
    frame.loc[10:, "adj_close"] = np.nan  # a source with closes only from row 10 on
    store.upsert("prices", frame, now=T0, today=TODAY)
    series = store.dataset("bbb").series()
    np.testing.assert_array_equal(series.to_numpy(), frame["adj_close"].fillna(frame["close"]).to_numpy())


def _reference_derived(frame: pd.DataFrame) -> pd.DataFrame:
    price = frame["adj_close"]
    out = pd.DataFrame({"simple_return": price.pct_change(), "log_return": np.log(price).diff()})
    for window in MA_WINDOWS:
        out[f"ma_{window}"] = price.rolling(window).mean()
    return out


def test_derived_groups_match_pandas_after_backfill_update_and_revision(store: FeatureStore) -> None:
    full = prices("aaa", periods=400)
    store.upsert("prices", full.iloc[:390], now=T0, today=TODAY)
    store.upsert("prices", full.iloc[385:], now=T0 + timedelta(days=1), today=TODAY)  # overlap, 10 new days
    full.loc[200, ["close", "adj_close"]] = full.loc[200, "close"] * 1.5  # a revision deep in history
    report = store.upsert("prices", full.iloc[[200]], now=T0 + timedelta(days=2), today=TODAY)
    # the revision changes 2 returns and the moving averages of the rows whose window holds row 200
    assert report.derived == {"returns": 2, "moving_averages": 200}
    expected = _reference_derived(full)
    got = store.read("aaa", group="returns").merge(store.read("aaa", group="moving_averages"), on=["symbol", "date"])
    for column in expected:
        np.testing.assert_allclose(got[column].to_numpy(), expected[column].to_numpy(), rtol=1e-9, atol=1e-15,
                                   equal_nan=True)


def test_bad_input_matrix_rejects_each_row_with_its_reason(store: FeatureStore) -> None:
    store.upsert("prices", prices("bbb"), now=T0, today=TODAY)
    bbb_before = {g: store.read("bbb", group=g) for g in ("prices", "returns", "moving_averages")}
    good = prices("aaa", start="2023-01-02", periods=3)
    bad = pd.concat([prices("aaa", start="2023-06-01", periods=9)] * 1, ignore_index=True).astype(object)
    bad.loc[0, "close"] = np.nan
    bad.loc[1, "close"] = -5.0
    bad.loc[2, ["high", "low"]] = [90.0, 95.0]
    bad.loc[3, "date"] = pd.Timestamp("2030-01-01")
    bad.loc[4, "symbol"] = "zzz"
    bad.loc[5, "close"] = "abc"
    bad.loc[6, "volume"] = -1.0
    bad.loc[7, "date"] = "not a date"
    bad.loc[8, "date"] = bad.loc[0, "date"]  # duplicate key with row 0 (both rejected)
    report = store.upsert("prices", pd.concat([good, bad], ignore_index=True), now=T0 + timedelta(days=1),
                          today=TODAY)
    assert report.written == 3 and len(report.rejected) == 9
    reasons = list(report.rejected["reason"])
    expected = ["close is missing (NaN)", "close must be > 0, got -5.0", "high (90.0) < low (95.0)",
                "date 2030-01-01 is in the future (today is 2024-01-02)",
                "unknown symbol 'zzz' (not registered in group 'prices': backfill it, or import with --register)",
                "close is not a number: 'abc'", "volume must be >= 0, got -1.0",
                "date 'not a date' in column 'date' is not a date (expected e.g. 2020-01-31)",  # load_csv's rule
                "duplicate key (aaa, 2023-06-01) in this batch"]
    for reason, want in zip(reasons, expected, strict=True):
        assert want in reason, (want, reason)
    assert "duplicate key" in reasons[0]  # row 0 fails twice: both reasons are listed
    assert len(store.read("aaa")) == 3  # only the good rows
    for group, before in bbb_before.items():  # nothing else affected
        pd.testing.assert_frame_equal(store.read("bbb", group=group), before)
    quarantine = store.quarantine()
    assert len(quarantine) == 9 and set(quarantine["target_group"]) == {"prices"}
    assert '"close": "abc"' in quarantine.loc[quarantine["reason"].str.contains("abc"), "row"].item()
    # the same bad batch again is not quarantined twice
    store.upsert("prices", pd.concat([good, bad], ignore_index=True), now=T0 + timedelta(days=2), today=TODAY)
    assert len(store.quarantine()) == 9


def test_wrong_columns_reject_the_batch_with_the_reason(store: FeatureStore) -> None:
    report = store.upsert("prices", prices("aaa", periods=3).drop(columns="close").assign(colour="red"),
                          now=T0, today=TODAY)
    assert report.written == 0 and len(report.rejected) == 3
    assert "unexpected column 'colour'" in report.rejected["reason"][0]
    assert "column 'close' is missing" in report.rejected["reason"][0]


def test_macro_group_allows_negative_values(tmp_path: Path) -> None:
    store = FeatureStore(str(tmp_path / "s"))
    register(store, "inflation", group="macro", freq="QS")
    frame = pd.DataFrame({"symbol": "inflation", "date": pd.date_range("2000-01-01", periods=4, freq="QS"),
                          "value": [2.0, -0.5, 0.0, 1.5]})
    assert store.upsert("macro", frame, now=T0, today=TODAY).written == 4
    with pytest.raises(StoreError, match="derived from prices"):
        store.upsert("returns", frame, now=T0, today=TODAY)
    with pytest.raises(StoreError, match=r"group \('nope'\) must be one of"):
        store.read("inflation", group="nope")


def test_a_killed_writer_leaves_all_or_nothing(tmp_path: Path) -> None:
    url = str(tmp_path / "store")
    store = FeatureStore(url)
    register(store, *[f"s{i:03d}" for i in range(200)])
    store.upsert("prices", prices("s000", periods=50), now=T0, today=TODAY)
    writer = ("import sys, numpy as np, pandas as pd\n"
              "from hpcast.store import FeatureStore\n"
              "n = 200 * 1500\n"
              "frame = pd.DataFrame({'symbol': np.repeat([f's{i:03d}' for i in range(200)], 1500),\n"
              "    'date': np.tile(pd.bdate_range('2000-01-03', periods=1500).to_numpy(), 200),\n"
              "    'close': np.linspace(1, 2, n), 'adj_close': np.linspace(1, 2, n)})\n"
              "print('ready', flush=True)\n"
              "FeatureStore(sys.argv[1]).upsert('prices', frame)\n")
    data = tmp_path / "store" / "prices" / "v1" / "data"
    before = set(data.iterdir())
    # 1. killed while its data file is being written (the file has appeared, the commit not yet)
    process = subprocess.Popen([sys.executable, "-c", writer, url], stdout=subprocess.PIPE, text=True)
    while set(data.iterdir()) == before and process.poll() is None:
        time.sleep(0.0005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    fresh = FeatureStore(url)
    assert len(fresh.read(group="prices")) == 50 and len(fresh.table("prices").orphans()) == 1
    # 2. killed at other moments: validating, diffing, writing, committing, deriving
    outcomes = set()
    for delay in (0.0, 0.3, 0.6, 1.0, 1.5, 2.5):
        process = subprocess.Popen([sys.executable, "-c", writer, url], stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        fresh = FeatureStore(url)
        rows = fresh.read(group="prices")
        batch = rows[rows["date"] < pd.Timestamp("2020-01-01")]
        assert len(batch) in (0, 300_000), f"killed after {delay}s: {len(batch)} rows of the batch visible"
        outcomes.add(len(batch))
        assert len(rows[rows["date"] >= pd.Timestamp("2020-01-01")]) == 50  # earlier data untouched
        if len(batch):
            break
    assert 0 in outcomes  # at least one kill landed before the commit (the case that matters)


_RACER = """
import sys, time
import numpy as np, pandas as pd
from hpcast.store import FeatureStore
url, symbol, start_at, chunks = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
while time.time() < start_at:
    time.sleep(0.001)
dates = pd.bdate_range('2020-01-01', periods=10 * chunks)
for chunk in range(chunks):
    part = dates[chunk * 10:(chunk + 1) * 10]
    FeatureStore(url).upsert('prices', pd.DataFrame({'symbol': symbol, 'date': part, 'close': 1.0 + chunk}))
"""


@pytest.mark.parametrize("where", ["local", "s3"])
def test_concurrent_writers_lose_nothing(tmp_path: Path, where: str, request: pytest.FixtureRequest) -> None:
    url = str(tmp_path / "store") if where == "local" else f"{request.getfixturevalue('moto_s3')}/race"
    register(FeatureStore(url), "aaa", "bbb")
    chunks = 8 if where == "local" else 3  # S3 round trips are slow under moto
    start_at = time.time() + 3.0
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, url, symbol, str(start_at), str(chunks)])
              for symbol in ("aaa", "bbb")]
    assert [racer.wait(timeout=120) for racer in racers] == [0, 0]
    store = FeatureStore(url)
    rows = store.read(group="prices")
    assert rows.groupby("symbol").size().to_dict() == {"aaa": 10 * chunks, "bbb": 10 * chunks}
    assert len(store.table("prices").commits()) == 2 * chunks  # every batch committed once, none overwritten
    assert len(store.read(group="moving_averages")) == 20 * chunks


def test_store_on_s3_through_a_moto_server(moto_s3: str) -> None:
    url = f"{moto_s3}/store-roundtrip"
    store = FeatureStore(url)
    register(store, "aaa")
    frame = prices("aaa", periods=120)
    assert store.upsert("prices", frame, now=T0, today=TODAY).written == 120
    assert FeatureStore(url).upsert("prices", frame, now=T0 + timedelta(hours=1), today=TODAY).written == 0
    store.upsert("prices", frame.iloc[[-1]].assign(close=1.0, adj_close=1.0), now=T0 + timedelta(days=1),
                 today=TODAY)
    reader = FeatureStore(url)
    assert reader.read("aaa", as_of=T0 + timedelta(hours=2))["close"].iloc[-1] == frame["close"].iloc[-1]
    assert reader.read("aaa")["close"].iloc[-1] == 1.0
    np.testing.assert_array_equal(reader.dataset("aaa", as_of=T0).series().to_numpy(), frame["adj_close"].to_numpy())
    assert reader.status().set_index("group").loc["prices", "commits"] == 2


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_commit_version_is_created_once(tmp_path: Path, where: str, request: pytest.FixtureRequest) -> None:
    from hpcast.store.table import Commit, CommitConflictError

    url = str(tmp_path / "t") if where == "local" else f"{request.getfixturevalue('moto_s3')}/exclusive"
    table = FeatureStore(url).table("prices")
    table.commit(Commit(version=1, ingested_at=T0, files=("data/a.parquet",), rows=1))
    with pytest.raises(CommitConflictError, match=r"version 1 of .* exists"):
        table.commit(Commit(version=1, ingested_at=T0, files=("data/b.parquet",), rows=2))
    assert [c.files for c in table.commits()] == [("data/a.parquet",)]  # the loser changed nothing


def test_backfill_from_yahoo_uses_the_same_path_as_hpcast_fetch(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A recorded Yahoo answer (in fetch's cache, so no network) goes through validation into the store;
    CPI, which Yahoo does not carry, comes from the bundled file and the report says so."""
    from hpcast.store.ingest import backfill

    cache = tmp_path / "cache"
    monkeypatch.setenv("HPCAST_CACHE", str(cache))
    (cache / "yahoo").mkdir(parents=True)
    (cache / "yahoo" / "_GSPC_2020-01-01_2020-01-09_1d.csv").write_text(
        "date,open,high,low,close,adj_close,volume\n"
        "2020-01-02,3244.67,3258.14,3235.53,3257.85,3257.85,3459930000\n"
        "2020-01-03,3226.36,3246.15,3222.34,3234.85,3234.85,3484700000\n"
        "2020-01-06,3217.55,3246.84,3214.64,3246.28,3246.28,3702460000\n"
        "2020-01-07,3241.86,3244.91,3232.43,3237.18,3237.18,3435910000\n"
        "2020-01-08,3238.59,3267.07,3236.67,3253.05,3253.05,3726840000\n")
    store = FeatureStore(str(tmp_path / "store"))
    reports = backfill(store, ["sp500", "cpi"], source="yahoo", start="2020-01-01", end="2020-01-08")
    assert [(r.group, r.source, r.written) for r in reports] == [
        ("sp500", "yahoo ^GSPC", 5), ("cpi", "bundled cpi (Yahoo does not carry it)", 0)]
    assert store.read("sp500")["close"].tolist() == [3257.85, 3234.85, 3246.28, 3237.18, 3253.05]
    assert store.symbols().set_index("symbol").loc["sp500", "source"] == "yahoo"


def test_validate_finds_and_repairs_derived_groups_left_behind(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from hpcast.cli import cli

    monkeypatch.setenv("HPCAST_STORE", str(tmp_path / "store"))
    store = FeatureStore()
    register(store, "aaa")
    store.upsert("prices", prices("aaa", periods=250), now=T0, today=TODAY)
    runner = CliRunner()
    assert runner.invoke(cli, ["store", "validate"]).exit_code == 0
    # a writer killed between its prices commit and its derived commits: prices moved, derived did not
    revised = prices("aaa", periods=250).iloc[[100]].assign(close=150.0, adj_close=150.0, high=151.0)
    store._upsert_changed("prices", revised.reset_index(drop=True), None)
    found = runner.invoke(cli, ["store", "validate"])
    assert found.exit_code == 1 and "values differ from a fresh computation" in found.output
    repaired = runner.invoke(cli, ["store", "validate", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "repaired: {'returns': 2, 'moving_averages': 150}" in repaired.output


def test_store_datasets_keep_their_assets_calendar(store: FeatureStore) -> None:
    """A catalog asset read back from the store forecasts on its exchange's sessions, not plain weekdays."""
    from hpcast.store.ingest import backfill

    backfill(store, ["sp500", "gold"], end="2018-12-31")
    sp500, gold = store.dataset("sp500"), store.dataset("gold")
    assert (sp500.calendar, gold.calendar) == ("NYSE", "London")
    assert sp500.gaps().missing == 0  # the store holds exactly the NYSE sessions of the bundled file
