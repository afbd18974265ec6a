"""One server for both: the REST API under ``/api/v1`` and the Gradio page at ``/``, optionally under a prefix.

`ServeConfig` (in `hpcast.app.config`) says how: address, prefix behind a reverse proxy, processes, threads.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from hpcast.app.config import ServeConfig
from hpcast.invest.advisor import Advisor

__all__ = ["create_app", "serve"]

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

# Worker processes (uvicorn imports the factory in each) read their settings from here.
_CONFIG_VARIABLE = "HPCAST_APP_SERVE_CONFIG"


def _open_advisor(config: ServeConfig) -> Advisor:
    from hpcast.invest.simulate import warm

    advisor = Advisor.open(config.store_url, registry=config.registry, backfill_if_empty=True)
    warm(advisor.market)  # today's volatility models, fitted before the first visitor asks
    return advisor


def create_app(advisor: Advisor, config: ServeConfig | None = None) -> Any:
    """FastAPI app with the API routes first, then the page mounted at ``/`` (routes win over the mount).

    Example:
        >>> app = create_app(Advisor.open(), ServeConfig(root_path="/hpcast"))  # doctest: +SKIP
    """
    import gradio as gr

    from hpcast.app.api import create_api
    from hpcast.app.ui import CSS, build_ui

    config = config or ServeConfig()
    api = create_api(advisor, threads=config.threads)
    return gr.mount_gradio_app(api, build_ui(advisor), path="/", root_path=config.prefix or None, ssr_mode=False,
                               css=CSS, footer_links=[], show_error=False)


def app_from_environment() -> Any:
    """The app of one worker process when ``workers > 1`` (uvicorn calls this factory in each)."""
    config = ServeConfig(**json.loads(os.environ[_CONFIG_VARIABLE]))
    return create_app(_open_advisor(config), config)


def serve(config: ServeConfig, advisor: Advisor | None = None) -> None:
    """Serve until interrupted: one process, or ``config.workers`` processes that each open their own advisor.

    Example:
        >>> serve(ServeConfig(port=7860, root_path="/hpcast"))  # doctest: +SKIP
    """
    import uvicorn

    # uvicorn's root_path (FastAPI's own is deprecated) reaches every route and the OpenAPI `servers` entry.
    options = {"host": config.host, "port": config.port, "root_path": config.prefix, "log_level": "warning"}
    if config.workers == 1:
        uvicorn.run(create_app(advisor or _open_advisor(config), config), **options)
        return
    os.environ[_CONFIG_VARIABLE] = json.dumps(dataclasses.asdict(config))
    uvicorn.run("hpcast.app.server:app_from_environment", factory=True, workers=config.workers, **options)
