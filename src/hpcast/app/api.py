"""The versioned REST API (``/api/v1``): the same `Advisor` calls the web page makes.

Every rule a request can break answers 422 with FastAPI's error shape, one entry per broken rule, each
naming the field (``loc``) and the rule (``msg``): wrong types are caught by the request models, and the
rules that need the data (known assets, dates with data) by the simulator's own checks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hpcast import __version__
from hpcast.app.config import SIMULATION_THREADS
from hpcast.errors import InputError
from hpcast.invest.advisor import Advisor
from hpcast.invest.simulate import MAX_AMOUNT, MAX_MONTHS

__all__ = ["ForecastRequest", "SimulateRequest", "create_api"]

_AS_OF = ("Date of the prices the simulation starts from, YYYY-MM-DD; default: the latest date every chosen "
          "asset has data for (GET /api/v1/assets lists each asset's dates).")
_HORIZON = f"Months ahead, a whole number from 1 to {MAX_MONTHS} (3 and 6 are typical)."


class SimulateRequest(BaseModel):
    """An amount invested today, its split over assets, and how far ahead to look."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": 10000, "allocation": {"sp500": 60, "gold": 40}, "horizon_months": 6, "as_of": "2017-12-29"}]})

    amount: float = Field(description=f"Amount invested today: finite, > 0 and <= {MAX_AMOUNT:g}.")
    allocation: dict[str, float] = Field(description="Percent per asset (names from GET /api/v1/assets, 'cash' "
                                                     "included when a rate series exists): each >= 0, summing "
                                                     "to 100 (±0.01).")
    horizon_months: int = Field(6, description=_HORIZON)
    as_of: str | None = Field(None, description=_AS_OF)


class ForecastRequest(BaseModel):
    """One asset's price distribution over the horizon."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"asset": "gold", "horizon_months": 3}]})

    asset: str = Field(description="A priced asset from GET /api/v1/assets.")
    horizon_months: int = Field(6, description=_HORIZON)
    as_of: str | None = Field(None, description=_AS_OF)


def _unprocessable(error: InputError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": [
        {"loc": ["body", name], "msg": message, "type": "value_error"} for name, message in error.errors]})


def create_api(advisor: Advisor, threads: int = SIMULATION_THREADS) -> FastAPI:
    """The FastAPI application with the ``/api/v1`` routes (the web page is mounted on it by `server`).

    ``threads`` simulations run at once; the others wait their turn.
    """
    app = FastAPI(title="hpcast investor API", version=__version__, docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/v1/openapi.json",
                  description="What an allocation may be worth after a few months, after inflation, with the "
                              "models' backtest skill beside every forecast. Same numbers as the web page.")

    limiter: list[anyio.CapacityLimiter] = []  # made on first use, inside the server's event loop

    async def run(work: Callable[[], Any]) -> Any:
        if not limiter:
            limiter.append(anyio.CapacityLimiter(threads))
        return await anyio.to_thread.run_sync(work, limiter=limiter[0])

    @app.exception_handler(InputError)
    async def input_error(_: Request, error: InputError) -> JSONResponse:
        return _unprocessable(error)

    @app.get("/api/v1/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness: answers as soon as the server is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/api/v1/assets", tags=["invest"])
    def assets() -> dict[str, Any]:
        """Every asset that can be allocated to, with its dates and the model behind its forecast."""
        return advisor.assets()

    # The answers are plain JSON-ready dicts: returning a JSONResponse skips FastAPI's re-encoding walk
    # over every list (a few ms per answer).
    @app.post("/api/v1/simulate", tags=["invest"], response_class=JSONResponse)
    async def simulate(body: SimulateRequest) -> JSONResponse:
        """Distribution of the portfolio's value at the horizon, nominal and after projected inflation."""
        def work() -> dict[str, Any]:
            return advisor.simulate(body.amount, body.allocation, body.horizon_months, body.as_of).to_dict()

        return JSONResponse(await run(work))

    @app.post("/api/v1/forecast", tags=["invest"], response_class=JSONResponse)
    async def forecast(body: ForecastRequest) -> JSONResponse:
        """One asset's price bands over the horizon, its model's forecast and the model's backtest skill."""
        return JSONResponse(await run(functools.partial(advisor.forecast, body.asset, body.horizon_months,
                                                        body.as_of)))

    @app.get("/api/v1/calibration", tags=["invest"], responses={404: {"description": "Not calibrated yet"}})
    def calibration() -> Any:
        """The latest `hpcast invest calibrate` result: how often outcomes fell inside the 90% band."""
        found = advisor.calibration()
        if found is None:
            return JSONResponse(status_code=404,
                                content={"detail": "no calibration yet: run `hpcast invest calibrate`"})
        return {k: v for k, v in found.items() if k != "figure"}

    return app
