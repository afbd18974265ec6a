"""How the app is served (`ServeConfig`) and the rules on where it listens; light to import, so the CLI reads
its defaults from here.

Behind a reverse proxy that serves the app at ``https://example.org/hpcast/``, ``root_path="/hpcast"``
tells uvicorn (hence FastAPI: the OpenAPI document's ``servers`` entry, the docs page's links) and Gradio
(the page's asset, queue and upload URLs) where they live. The proxy strips the prefix before passing a
request on (nginx: ``location /hpcast/ { proxy_pass http://127.0.0.1:7860/; }``), so the app still answers
``/api/v1/health`` on its own port, which is what local health checks call.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re

__all__ = ["DEFAULTS", "SIMULATION_THREADS", "ServeConfig", "host_warning", "is_loopback"]

# Simulations run on this many threads, first come first served. Many threads sharing the GIL would
# time-slice every request (a heavy one then waits on all the others); two keep numpy busy on two cores
# and make latency close to queue length x service time. Measured in benchmarks/app_latency.py.
SIMULATION_THREADS = 2

_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the app on this machine: ``localhost`` or a loopback IP literal.

    Any other name counts as open: what it resolves to can change after the check.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_warning(host: str) -> str | None:
    """The line to print before binding a non-loopback ``host`` (None for a loopback one).

    Example:
        >>> host_warning("0.0.0.0")[:40]
        'warning: listening on all interfaces (0.'
    """
    if is_loopback(host):
        return None
    try:
        everywhere = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        everywhere = False
    where = "on all interfaces" if everywhere else "on a non-loopback address"
    return (f"warning: listening {where} ({host}): anyone who can reach this machine can use the app; "
            "bind 127.0.0.1 behind a reverse proxy instead (deploy/README.md)")


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """How `hpcast.app.server.serve` runs the app; checked when built.

    Attributes:
        host: Address to bind (the CLI decides whether a non-loopback one is allowed, see `is_loopback`).
        port: TCP port, 1-65535.
        root_path: Public path prefix behind a reverse proxy (``/hpcast``), or ``/`` for none.
        workers: uvicorn worker processes, each with its own copy of the store and the models.
        threads: Simulations each worker runs at once through the API.
        store_url: Store location (None: ``HPCAST_STORE`` or the default folder).
        registry: Use registered champions (False: every asset uses the drift baseline).

    Example:
        >>> ServeConfig(root_path="/hpcast").prefix
        '/hpcast'
    """

    host: str = "127.0.0.1"
    port: int = 7860
    root_path: str = "/"
    workers: int = 1
    threads: int = SIMULATION_THREADS
    store_url: str | None = None
    registry: bool = True

    def __post_init__(self) -> None:
        segments = self.root_path.split("/")[1:]
        if self.root_path != "/" and not (self.root_path.startswith("/") and all(
                _SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments)):
            raise ValueError(f"root_path ({self.root_path!r}) must start with '/', not end with '/' (unless it is "
                             "'/'), and use only letters, digits and - . _ ~ between single slashes, e.g. /hpcast")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port ({self.port}) must be from 1 to 65535")
        for name in ("workers", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} ({getattr(self, name)}) must be >= 1")

    @property
    def prefix(self) -> str:
        """``root_path`` as FastAPI and Gradio take it: ``""`` for none."""
        return "" if self.root_path == "/" else self.root_path


DEFAULTS = ServeConfig()  # the CLI's option defaults
