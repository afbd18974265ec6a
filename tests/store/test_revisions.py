"""The daily update against a replayed Yahoo whose adjusted closes move under it (no network).

Yahoo re-adjusts ``adj_close`` over the whole history after each dividend or split. The two chart responses
(built by ``fixtures/make_yahoo_chart_AAPL_2013.py`` in Yahoo's v8 schema from the bundled AAPL prices) are
AAPL's history as served after the close of 2013-02-06 (basis: the November 2012 dividend) and of
2013-02-28 (the same raw bars plus February's, every bar before the 2013-02-07 ex-date re-adjusted for its
$2.65 dividend). A fake chart endpoint answers each request with the bars inside its ``period1..period2``,
as Yahoo does, so the ranges the update asks for are real and checked. yfinance runs unpatched, on a plain
``requests.Session`` so that `responses` sees its traffic.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests
import responses

from hpcast.store import FeatureStore
from hpcast.store.ingest import backfill, update

FIXTURES = Path(__file__).parent.parent / "fixtures"
FEB_06 = json.loads((FIXTURES / "yahoo_chart_AAPL_2013-02-06.json").read_text())
FEB_28 = json.loads((FIXTURES / "yahoo_chart_AAPL_2013-02-28.json").read_text())
NEW_YORK = "America/New_York"
T0 = datetime(2013, 2, 1, 22, tzinfo=UTC)  # the backfill, after the close of 2013-02-01
T1 = datetime(2013, 2, 28, 22, tzinfo=UTC)  # the daily update
LAST_STORED = pd.Timestamp("2013-02-01")
OLD_DAYS = 84  # sessions 2012-10-01 .. 2013-02-01
FEBRUARY_DIVIDEND = 1 - 2.65 / 457.35  # $2.65 over the close of 2013-02-06, the session before the ex-date


class FakeYahoo:
    """Yahoo's cookie, crumb and chart endpoints; the chart serves ``self.chart`` cut to the asked period."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.chart: dict = FEB_06
        self.ranges: list[tuple[date, date]] = []  # (period1, period2) of every data request, New York dates
        self.answer_only = None  # answer this many data requests, then say "no data" (a failing re-read)
        mock.add(responses.GET, "https://fc.yahoo.com/", status=404)
        mock.add(responses.GET, re.compile(r"https://query\d\.finance\.yahoo\.com/v1/test/getcrumb"), body="crumb")
        mock.add_callback(responses.GET, re.compile(r"https://query\d\.finance\.yahoo\.com/v8/finance/chart/.*"),
                          callback=self._answer)

    def _answer(self, request: requests.PreparedRequest) -> tuple[int, dict, str]:
        query = parse_qs(urlsplit(request.url).query)
        result = copy.deepcopy(self.chart["chart"]["result"][0])
        if "period1" in query:  # a data request (the time-zone lookup asks for range=1d)
            low, high = int(query["period1"][0]), int(query["period2"][0])
            self.ranges.append(tuple(pd.Timestamp(t, unit="s", tz="UTC").tz_convert(NEW_YORK).date()
                                     for t in (low, high)))
            if self.answer_only is not None and len(self.ranges) > self.answer_only:
                return 200, {}, json.dumps({"chart": {"result": None, "error": {
                    "code": "Not Found", "description": "No data found, symbol may be delisted"}}})
            keep = [i for i, t in enumerate(result["timestamp"]) if low <= t < high]
            result["timestamp"] = [result["timestamp"][i] for i in keep]
            for series in (*result["indicators"]["quote"], *result["indicators"]["adjclose"]):
                for key, values in series.items():
                    series[key] = [values[i] for i in keep]
            result["events"] = {kind: {k: v for k, v in events.items() if low <= int(k) < high}
                                for kind, events in result["events"].items()}
        return 200, {"Content-Type": "application/json"}, json.dumps({"chart": {"result": [result], "error": None}})


@pytest.fixture
def yahoo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import yfinance

    from hpcast.data import yahoo as source

    monkeypatch.setattr(yfinance.data.YfData, "_instances", {}, raising=False)  # no cookie/crumb/answer reuse
    monkeypatch.setenv("HPCAST_CACHE", str(tmp_path / "cache"))
    fetch = source.fetch_yahoo  # the real one, only handed a session `responses` can see
    monkeypatch.setattr(source, "fetch_yahoo", lambda *args, **kwargs: fetch(*args, session=requests.Session(),
                                                                               **kwargs))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeYahoo(mock)


@pytest.fixture
def store(tmp_path: Path, yahoo: FakeYahoo) -> FeatureStore:
    """AAPL backfilled from Yahoo through 2013-02-01, at T0."""
    store = FeatureStore(str(tmp_path / "store"))
    backfill(store, ["aapl"], source="yahoo", start="2012-10-01", end="2013-02-01", now=T0)
    assert len(store.read("aapl")) == OLD_DAYS
    yahoo.ranges.clear()
    return store


def bars(chart: dict) -> pd.DataFrame:
    """``date, close, adj_close`` of a chart response, dated as the store dates them."""
    result = chart["chart"]["result"][0]
    dates = pd.to_datetime(result["timestamp"], unit="s", utc=True).tz_convert(NEW_YORK).normalize()
    return pd.DataFrame({"date": dates.tz_localize(None).astype("datetime64[ns]"),
                         "close": result["indicators"]["quote"][0]["close"],
                         "adj_close": result["indicators"]["adjclose"][0]["adjclose"]})


def old(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["date"] <= LAST_STORED].reset_index(drop=True)


def test_same_basis_appends_new_days_and_re_reads_no_history(store: FeatureStore, yahoo: FakeYahoo) -> None:
    commits = len(store.table("prices").commits())
    [report] = update(store, ["aapl"], until="2013-02-06", now=T1)
    assert report.revision == "" and "adjustment basis" not in report.summary()
    assert (report.received, report.written, report.unchanged) == (9, 3, 6)  # 3 new days, 6 re-read unchanged
    assert yahoo.ranges == [(date(2013, 1, 25), date(2013, 2, 7))]  # the last week only, no re-read of history
    stored = store.read("aapl")
    assert (old(stored)["ingested_at"] == pd.Timestamp(T0)).all()
    assert list(stored["date"].iloc[-3:].dt.strftime("%m-%d")) == ["02-04", "02-05", "02-06"]
    assert len(store.table("prices").commits()) == commits + 1


def test_new_basis_re_ingests_the_history_in_one_commit_and_keeps_the_old_as_of(store: FeatureStore,
                                                                               yahoo: FakeYahoo) -> None:
    ma_before = store.read("aapl", LAST_STORED, LAST_STORED, group="moving_averages")["ma_20"].item()
    commits = len(store.table("prices").commits())
    yahoo.chart = FEB_28
    [report] = update(store, ["aapl"], until="2013-02-28", now=T1)

    # asked for the last week, saw the new basis on days whose close did not move, re-read the stored span
    assert yahoo.ranges == [(date(2013, 1, 25), date(2013, 3, 1)), (date(2012, 10, 1), date(2013, 3, 1))]
    assert report.revision == (f"adjustment basis changed on 2013-01-25 (adj_close × {FEBRUARY_DIVIDEND:.4f} on "
                               f"the overlap): history re-ingested, {OLD_DAYS} rows revised")
    assert report.summary().startswith("aapl: adjustment basis changed on 2013-01-25 (adj_close × 0.9942 on the "
                                       "overlap): history re-ingested, 84 rows revised; 102 rows received, 102 written")
    assert len(store.table("prices").commits()) == commits + 1  # one atomic commit: no half-revised history

    now, fresh = store.read("aapl"), bars(FEB_28)
    assert list(now["date"]) == list(fresh["date"])
    assert now["adj_close"].to_numpy() == pytest.approx(fresh["adj_close"].to_numpy(), rel=1e-12)
    assert now["close"].to_numpy() == pytest.approx(fresh["close"].to_numpy(), rel=1e-12)
    assert (old(now)["ingested_at"] == pd.Timestamp(T1)).all()  # every old day has a new version

    before = store.read("aapl", as_of=T1 - timedelta(microseconds=1))
    assert list(before["date"]) == list(old(fresh)["date"])
    assert before["adj_close"].to_numpy() == pytest.approx(old(bars(FEB_06))["adj_close"].to_numpy(), rel=1e-12)
    assert (old(now)["adj_close"] / before["adj_close"]).to_numpy() == pytest.approx(FEBRUARY_DIVIDEND, rel=1e-8)

    # the derived groups follow: a 20-day average of the old days scales by the dividend factor
    ma_after = store.read("aapl", LAST_STORED, LAST_STORED, group="moving_averages")["ma_20"].item()
    assert ma_after == pytest.approx(ma_before * FEBRUARY_DIVIDEND, rel=1e-8)


def test_a_corrected_close_is_a_correction_of_that_day_not_a_new_basis(store: FeatureStore,
                                                                       yahoo: FakeYahoo) -> None:
    corrected = copy.deepcopy(FEB_06)
    result = corrected["chart"]["result"][0]
    day = bars(FEB_06)["date"].eq(pd.Timestamp("2013-01-30")).to_numpy().argmax()
    close, adjusted = result["indicators"]["quote"][0]["close"], result["indicators"]["adjclose"][0]["adjclose"]
    # Yahoo fixes a bad print: the close moves, and its adj_close with it (so adj_close alone differs)
    adjusted[day] *= 458.83 / close[day]
    close[day] = 458.83
    yahoo.chart = corrected
    [report] = update(store, ["aapl"], until="2013-02-06", now=T1)

    assert report.revision == "" and "adjustment basis" not in report.summary()
    assert (report.written, report.unchanged) == (4, 5)  # 3 new days and the corrected one
    assert yahoo.ranges == [(date(2013, 1, 25), date(2013, 2, 7))]
    stored = old(store.read("aapl"))
    fixed = stored["date"] == pd.Timestamp("2013-01-30")
    assert stored.loc[fixed, "close"].item() == 458.83
    assert stored.loc[fixed, "adj_close"].item() == pytest.approx(adjusted[day], rel=1e-12)
    assert (stored.loc[~fixed, "ingested_at"] == pd.Timestamp(T0)).all()  # no other day was touched


def test_a_stored_day_missing_from_the_re_read_is_named_in_the_report(store: FeatureStore,
                                                                      yahoo: FakeYahoo) -> None:
    dropped = copy.deepcopy(FEB_28)
    result = dropped["chart"]["result"][0]
    gone = int(bars(FEB_28)["date"].eq(pd.Timestamp("2012-12-24")).to_numpy().argmax())
    for series in (result["timestamp"], *result["indicators"]["quote"][0].values(),
                   result["indicators"]["adjclose"][0]["adjclose"]):
        del series[gone]
    yahoo.chart = dropped
    [report] = update(store, ["aapl"], until="2013-02-28", now=T1)

    assert report.revision.endswith(f"history re-ingested, {OLD_DAYS - 1} rows revised; 1 stored day(s) missing "
                                    "from or rejected in the re-read keep the old basis: 2012-12-24")
    kept = store.read("aapl", "2012-12-24", "2012-12-24")
    assert kept["ingested_at"].item() == pd.Timestamp(T0)  # the store never deletes: said, not hidden


def test_a_failed_re_read_writes_nothing_and_says_why(store: FeatureStore, yahoo: FakeYahoo) -> None:
    before = store.content_hash("prices")
    yahoo.chart, yahoo.answer_only = FEB_28, 1  # the last week comes back, the history does not
    [report] = update(store, ["aapl"], until="2013-02-28", now=T1)

    assert report.error.startswith("adjustment basis changed on 2013-01-25 (adj_close × 0.9942 on the overlap), "
                                   "but re-reading the history failed, so nothing was written: ")
    assert report.written == 0 and report.revision == ""
    assert store.content_hash("prices") == before  # no new days on the old basis beside revised ones
