"""The REST API in-process (FastAPI's test client on the real app): answers, the bad-input matrix, schemathesis."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from hpcast.app.api import create_api
from hpcast.invest import Advisor, Market, Outlooks

GOOD = {"amount": 10000, "allocation": {"sp500": 60, "gold": 40}, "horizon_months": 6, "as_of": "2017-12-29"}


@pytest.fixture(scope="module")
def advisor(investor_home: Path) -> Advisor:
    from hpcast.registry import Registry
    from hpcast.store import FeatureStore

    return Advisor(Market.from_store(FeatureStore(str(investor_home / "store"))),
                   Outlooks(Registry(f"sqlite:///{investor_home / 'data' / 'mlflow.db'}")),
                   calibration=investor_home / "no-calibration-here", paths=1000)


@pytest.fixture(scope="module")
def client(advisor: Advisor) -> TestClient:
    return TestClient(create_api(advisor))


def test_simulate_answers_the_issue_example(client: TestClient, advisor: Advisor) -> None:
    response = client.post("/api/v1/simulate", json=GOOD)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["as_of"] == "2017-12-29" and answer["horizon"]["end"] == "2018-06-29"
    real = answer["real"]
    assert real["p5"] < real["median"] < real["p95"] and 0 <= answer["probability_real_loss"] <= 1
    assert [a["asset"] for a in answer["assets"]] == ["sp500", "gold"]
    assert sum(a["contribution"] for a in answer["assets"]) == pytest.approx(answer["nominal"]["mean"] / 10000 - 1)
    assert answer["assets"][0]["source"] == "champion v1" and answer["assets"][1]["source"] == "historical drift"
    assert answer == advisor.simulate(10000, {"sp500": 60, "gold": 40}, 6, "2017-12-29").to_dict()
    assert answer["regime"]["sentence"].startswith("Volatility is in the ") and answer["method"]["noise"] == "filtered"
    assert all(a["volatility"]["model"] in ("gjr-garch", "ewma") for a in answer["assets"])
    default = client.post("/api/v1/simulate", json={k: v for k, v in GOOD.items() if k != "as_of"}).json()
    assert default["as_of"] == "2018-12-31"  # the latest date both sp500 and gold have
    assert default["as_of_was_given"] is False


def test_assets_forecast_and_openapi(client: TestClient) -> None:
    listed = client.get("/api/v1/assets").json()
    names = [a["name"] for a in listed["assets"]]
    assert names == ["sp500", "gold", "cash"] and listed["inflation"]["series"] == "core_cpi"
    assert listed["assets"][0]["source"] == "champion v1"
    forecast = client.post("/api/v1/forecast", json={"asset": "gold", "horizon_months": 3}).json()
    assert forecast["price"]["p5"][-1] < forecast["spot"] * 1.0001 < forecast["price"]["p95"][-1]
    assert forecast["model_forecast"] is None and "no registered model for gold" in forecast["skill"]
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/assets", "/api/v1/simulate", "/api/v1/forecast", "/api/v1/calibration"} <= set(paths)
    assert client.get("/api/v1/calibration").status_code == 404


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"amount": 0}, "amount", "must be a finite number > 0"),
    ({"amount": -5}, "amount", "must be a finite number > 0"),
    ({"amount": 1e13}, "amount", "<= 1e+12"),
    ({"amount": "ten"}, "amount", "valid number"),
    ({"allocation": {"sp500": 60, "gold": 39.98}}, "allocation", "must sum to 100 (±0.01); it sums to 99.98"),
    ({"allocation": {"sp500": 110, "gold": -10}}, "allocation", "must be finite numbers >= 0: gold (-10.0)"),
    ({"allocation": {"sp500": 60, "oil": 40}}, "allocation", "unknown asset(s) 'oil'; known: sp500, gold, cash"),
    ({"allocation": {}}, "allocation", "one or more assets"),
    ({"horizon_months": 0}, "horizon_months", "from 1 to 12"),
    ({"horizon_months": 13}, "horizon_months", "from 1 to 12"),
    ({"horizon_months": 6.5}, "horizon_months", "valid integer"),
    ({"as_of": "2030-01-01"}, "as_of", "must be between 2000-01-04 and 2018-12-31"),
    ({"as_of": "1999-06-01"}, "as_of", "must be between 2000-01-04 and 2018-12-31"),
    ({"as_of": "12/29/2017"}, "as_of", "YYYY-MM-DD"),
    ({"as_of": "2018-02-30"}, "as_of", "YYYY-MM-DD"),
    ({"horizon": 6}, "horizon", "Extra inputs are not permitted"),
])
def test_bad_input_is_422_naming_the_field_and_the_rule(client: TestClient, change: dict, field: str,
                                                       words: str) -> None:
    response = client.post("/api/v1/simulate", json={**GOOD, **change})
    assert response.status_code == 422, response.text
    errors = {e["loc"][-1]: e["msg"] for e in response.json()["detail"]}
    assert field in errors and words in errors[field], errors


def test_nan_and_infinity_are_refused(client: TestClient) -> None:
    for token in ("NaN", "Infinity"):
        body = '{"amount": ' + token + ', "allocation": {"sp500": 100}}'
        response = client.post("/api/v1/simulate", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "amount"]
    inside = client.post("/api/v1/simulate", json={**GOOD, "allocation": {"sp500": 60, "gold": 40.009}})
    assert inside.status_code == 200  # within the ±0.01 tolerance


def test_schemathesis_finds_no_server_error(client: TestClient) -> None:
    """Generated requests for every operation in the OpenAPI document: none may answer 5xx."""
    from hypothesis import given
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 5
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        check()
