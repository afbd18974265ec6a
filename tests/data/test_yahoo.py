"""The Yahoo source against replayed HTTP responses (no network).

The chart response in ``fixtures/yahoo_chart_GSPC_2018-01.json`` follows Yahoo's v8 chart schema; its
values are the bundled S&P 500 closes for January 2018 (nothing can be recorded live on this machine).
yfinance is driven with a plain ``requests.Session`` so `responses` sees every request.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
import responses

from hpcast.data import DataError, fetch_yahoo, load_bundled

FIXTURE = Path(__file__).parent.parent / "fixtures" / "yahoo_chart_GSPC_2018-01.json"
CHART = re.compile(r"https://query\d\.finance\.yahoo\.com/v8/finance/chart/.*")


def _yahoo(mock: responses.RequestsMock, chart: dict) -> None:
    mock.add(responses.GET, "https://fc.yahoo.com/", status=404)
    mock.add(responses.GET, re.compile(r"https://query\d\.finance\.yahoo\.com/v1/test/getcrumb"), body="crumb")
    mock.add(responses.GET, CHART, json=chart)


@pytest.fixture(autouse=True)
def _fresh_yfinance(monkeypatch):
    import yfinance

    monkeypatch.setattr(yfinance.data.YfData, "_instances", {}, raising=False)  # no cookie/crumb reuse


def _chart_calls(mock: responses.RequestsMock) -> int:
    return sum(1 for call in mock.calls if "/v8/finance/chart/" in call.request.url)


def test_fetch_parses_prices_and_second_fetch_makes_no_request(tmp_path):
    chart = json.loads(FIXTURE.read_text())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _yahoo(mock, chart)
        first = fetch_yahoo("^GSPC", "2018-01-01", "2018-02-01", cache_dir=tmp_path, session=requests.Session())
        assert _chart_calls(mock) >= 1
        calls = len(mock.calls)
        second = fetch_yahoo("^GSPC", "2018-01-01", "2018-02-01", cache_dir=tmp_path, session=requests.Session())
        assert len(mock.calls) == calls  # served from the cache
    bundled = load_bundled("sp500").series("close")["2018-01"]
    assert first.series("close").to_numpy() == pytest.approx(bundled.to_numpy(), rel=1e-9)
    assert list(first.series("close").index) == list(bundled.index)
    assert first.freq == "B" and first.target == "adj_close"
    assert second.frame.equals(first.frame)


def test_refresh_downloads_a_cached_range_again_and_replaces_the_cache(tmp_path):
    chart = json.loads(FIXTURE.read_text())
    readjusted = json.loads(FIXTURE.read_text())  # the same bars on a new basis (as after a dividend)
    adjclose = readjusted["chart"]["result"][0]["indicators"]["adjclose"][0]
    adjclose["adjclose"] = [value * 0.99 for value in adjclose["adjclose"]]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _yahoo(mock, chart)
        fetch_yahoo("^GSPC", "2018-01-01", "2018-02-01", cache_dir=tmp_path, session=requests.Session())
        mock.replace(responses.GET, CHART, json=readjusted)
        calls = _chart_calls(mock)
        fresh = fetch_yahoo("^GSPC", "2018-01-01", "2018-02-01", cache_dir=tmp_path, session=requests.Session(),
                            refresh=True)
        assert _chart_calls(mock) > calls
    cached = fetch_yahoo("^GSPC", "2018-01-01", "2018-02-01", cache_dir=tmp_path)  # no session: from disk only
    expected = [value * 0.99 for value in chart["chart"]["result"][0]["indicators"]["adjclose"][0]["adjclose"]]
    assert fresh.frame["adj_close"].to_numpy() == pytest.approx(expected, rel=1e-12)
    assert cached.frame.equals(fresh.frame)


def test_empty_answer_is_an_error_not_an_empty_frame(tmp_path):
    empty = {"chart": {"result": None, "error": {"code": "Not Found", "description": "No data found, "
                                                 "symbol may be delisted"}}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _yahoo(mock, empty)
        with pytest.raises(DataError, match=r"no prices for 'NOPE'|could not reach Yahoo Finance"):
            fetch_yahoo("NOPE", "2018-01-01", "2018-02-01", cache_dir=tmp_path, session=requests.Session())
    assert not list((tmp_path / "yahoo").glob("*.csv")) if (tmp_path / "yahoo").exists() else True


def test_offline_says_what_to_use_instead(tmp_path):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, re.compile(r".*"), body=requests.ConnectionError("Could not resolve host"))
        with pytest.raises(DataError, match=r"could not reach Yahoo Finance; use --csv or a bundled dataset"):
            fetch_yahoo("^GSPC", "2018-01-01", "2018-02-01", cache_dir=tmp_path, session=requests.Session())


def test_start_must_precede_end(tmp_path):
    with pytest.raises(DataError, match=r"start \(2018-02-01\) must be before end \(2018-01-01\)"):
        fetch_yahoo("^GSPC", "2018-02-01", "2018-01-01", cache_dir=tmp_path)
