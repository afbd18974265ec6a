"""One server for both: the REST API under ``/api/v1`` and the Gradio page at ``/``."""

from __future__ import annotations

import os
from typing import Any

from hpcast.invest.advisor import Advisor

__all__ = ["create_app", "serve"]

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def create_app(advisor: Advisor) -> Any:
    """FastAPI app with the API routes first, then the page mounted at ``/`` (routes win over the mount)."""
    import gradio as gr

    from hpcast.app.api import create_api
    from hpcast.app.ui import CSS, build_ui

    return gr.mount_gradio_app(create_api(advisor), build_ui(advisor), path="/", ssr_mode=False, css=CSS,
                               footer_links=[], show_error=False)


def serve(advisor: Advisor, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve until interrupted (uvicorn, one process)."""
    import uvicorn

    uvicorn.run(create_app(advisor), host=host, port=port, log_level="warning")
