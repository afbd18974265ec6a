"""How `hpcast app` is served: the root-path and host rules, and the page and API under a prefix in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from hpcast.app.config import ServeConfig, host_warning, is_loopback
from hpcast.cli import cli
from hpcast.invest import Advisor, Market, Outlooks

PATHS = {"/api/v1/health", "/api/v1/assets", "/api/v1/simulate", "/api/v1/forecast", "/api/v1/calibration"}


@pytest.mark.parametrize("value", ["/", "/hpcast", "/apps/hpcast-1.0", "/a_b/~c"])
def test_root_path_accepts_a_clean_prefix(value: str) -> None:
    assert ServeConfig(root_path=value).prefix == ("" if value == "/" else value)


@pytest.mark.parametrize("value", ["", "hpcast", "/hpcast/", "//hpcast", "/hp cast", "/hpcast?x=1", "/a/../b",
                                   "/é", "/hp;cast"])
def test_root_path_refuses_naming_the_value_and_the_rule(value: str) -> None:
    with pytest.raises(ValueError, match="must start with '/', not end with '/'") as caught:
        ServeConfig(root_path=value)
    assert f"root_path ({value!r})" in str(caught.value)


def test_workers_threads_and_port_name_the_rule() -> None:
    for field, value, words in (("workers", 0, "workers (0) must be >= 1"), ("threads", -1, "threads (-1) must be"),
                                ("port", 70000, "port (70000) must be from 1 to 65535")):
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            ServeConfig(**{field: value})


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("10.0.0.1", False), ("example.org", False),
    ("", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert (host_warning(host) is None) is loopback


def test_the_warning_says_all_interfaces_for_an_unspecified_address() -> None:
    assert host_warning("0.0.0.0").startswith("warning: listening on all interfaces (0.0.0.0): anyone who can")
    assert host_warning("::").startswith("warning: listening on all interfaces (::)")
    assert host_warning("192.168.1.5").startswith("warning: listening on a non-loopback address (192.168.1.5)")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::"])
def test_a_non_loopback_host_from_the_environment_is_refused(host: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["app", "--store", str(tmp_path / "never-opened")],
                                env={"HPCAST_APP_HOST": host})
    assert result.exit_code == 2, result.output
    assert (f"Invalid value for --host: {host!r} came from $HPCAST_APP_HOST: a non-loopback address is bound only "
            "when given as --host on the command line") in " ".join(result.output.split())
    assert not (tmp_path / "never-opened").exists()  # refused before anything was opened


def test_a_bad_root_path_is_refused_by_the_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["app", "--root-path", "/hpcast/", "--store", str(tmp_path / "never-opened")])
    assert result.exit_code == 1
    assert "root_path ('/hpcast/') must start with '/', not end with '/'" in result.output


@pytest.fixture(scope="module")
def prefixed(investor_home: Path) -> TestClient:
    from hpcast.app.server import create_app
    from hpcast.registry import Registry
    from hpcast.store import FeatureStore

    advisor = Advisor(Market.from_store(FeatureStore(str(investor_home / "store"))),
                      Outlooks(Registry(f"sqlite:///{investor_home / 'data' / 'mlflow.db'}")),
                      calibration=investor_home / "no-calibration-here", paths=1000)
    return TestClient(create_app(advisor, ServeConfig(root_path="/hpcast")), root_path="/hpcast")


def test_the_openapi_document_names_the_prefix(prefixed: TestClient) -> None:
    document = prefixed.get("/api/v1/openapi.json").json()
    assert document["servers"] == [{"url": "/hpcast"}] and set(document["paths"]) >= PATHS
    assert "/hpcast/api/v1/openapi.json" in prefixed.get("/api/docs").text


def test_the_page_opens_with_the_default_answer(prefixed: TestClient) -> None:
    config = prefixed.get("/config").json()
    assert config["root"] == "http://testserver/hpcast"
    props = {c["props"]["elem_id"]: c["props"] for c in config["components"] if c["props"].get("elem_id")}
    default = prefixed.post("/api/v1/simulate", json={"amount": 10000, "allocation": {"sp500": 60, "gold": 40},
                                                      "horizon_months": 6}).json()
    table = props["assets-table"]["value"]
    assert table["headers"][:4] == ["asset", "weight %", "start value", "median value"]
    assert [row[0] for row in table["data"]] == ["sp500", "gold"]
    assert table["data"][0][3] == f"{default['assets'][0]['median_value']:,.2f}"
    assert f'id="real-median" data-value="{default["real"]["median"]!r}"' in props["summary"]["value"]
    assert props["fan"]["value"]["type"] == "matplotlib"
    assert all(not props[f"error-{name}"]["value"] for name in ("amount", "allocation", "horizon_months", "as_of"))
