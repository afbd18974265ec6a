"""URIs as hpcast shows them: credentials never reach a terminal, a log, cron.log or a run manifest."""

from __future__ import annotations

import re

__all__ = ["redact"]

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*)(?::[^/@\s]*)?@")


def redact(uri: str) -> str:
    """``uri`` with any password in its user-info replaced by ``***`` (the user name stays, to tell accounts
    apart); ``scheme://token@host`` (a bare token) becomes ``scheme://***@host``.

    Example:
        >>> redact("postgresql://ana:s3cret@db:5432/mlflow")
        'postgresql://ana:***@db:5432/mlflow'
    """
    def hide(match: re.Match[str]) -> str:
        has_password = ":" in match.group(0)[len(match.group("scheme")):]
        user = match.group("user")
        return f"{match.group('scheme')}{user}:***@" if has_password else f"{match.group('scheme')}***@"

    return _USERINFO.sub(hide, str(uri))
