"""``hpcast schedule``: the daily update after the US close and the monthly retrain, in one process.

The jobs run the same commands a person would (``hpcast pipeline daily`` / ``retrain``) as child
processes, so a crash in one run cannot take the scheduler down, and each run's exit code is logged.
People who prefer cron use the equivalent lines in `CRON`.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

__all__ = ["CRON", "JOBS", "build_scheduler", "run_pipeline"]

log = logging.getLogger(__name__)

TIMEZONE = "America/New_York"
# name -> (cron fields, the command's arguments after `hpcast`)
JOBS: dict[str, tuple[dict[str, str], list[str]]] = {
    "daily": ({"day_of_week": "mon-fri", "hour": "18", "minute": "30"}, ["pipeline", "daily"]),
    "retrain": ({"day": "1", "hour": "6", "minute": "0"}, ["pipeline", "retrain"]),
}
CRON = ("# m  h  dom mon dow  (times in America/New_York: set CRON_TZ or the machine's zone)\n"
        "30 18 *   *   1-5  hpcast pipeline daily   >> hpcast-data/cron.log 2>&1\n"
        "0  6  1   *   *    hpcast pipeline retrain >> hpcast-data/cron.log 2>&1")


def run_pipeline(arguments: list[str]) -> int:
    """Run ``hpcast <arguments>`` as a child process; log and return its exit code."""
    done = subprocess.run([sys.executable, "-m", "hpcast", *arguments], check=False)
    level = logging.INFO if done.returncode == 0 else logging.ERROR
    log.log(level, "hpcast %s exited with %d", " ".join(arguments), done.returncode)
    return done.returncode


def build_scheduler(extra: list[str] | None = None, *, blocking: bool = True) -> Any:
    """An APScheduler scheduler holding the two jobs; ``extra`` flags (e.g. ``--store URL``) go to both."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=TIMEZONE)
    for name, (fields, arguments) in JOBS.items():
        scheduler.add_job(run_pipeline, CronTrigger(timezone=TIMEZONE, **fields), args=[[*arguments, *(extra or [])]],
                          id=name, name=f"hpcast {' '.join(arguments)}", coalesce=True, misfire_grace_time=3600,
                          max_instances=1)
    return scheduler
