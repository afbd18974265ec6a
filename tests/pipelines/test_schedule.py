"""The scheduler's jobs, their next run times, and the child-process runner."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from hpcast.cli import cli
from hpcast.pipelines.schedule import build_scheduler, run_pipeline

NEW_YORK = ZoneInfo("America/New_York")


def test_jobs_fire_after_the_close_on_weekdays_and_monthly() -> None:
    scheduler = build_scheduler(["--store", "s3://bucket/x"], blocking=False)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"daily", "retrain"}
    friday_evening = datetime(2026, 11, 20, 19, 0, tzinfo=NEW_YORK)
    assert jobs["daily"].trigger.get_next_fire_time(None, friday_evening) == datetime(2026, 11, 23, 18, 30,
                                                                                       tzinfo=NEW_YORK)
    assert jobs["retrain"].trigger.get_next_fire_time(None, friday_evening) == datetime(2026, 12, 1, 6, 0,
                                                                                         tzinfo=NEW_YORK)
    assert jobs["daily"].args == (["pipeline", "daily", "--store", "s3://bucket/x"],)


def test_run_pipeline_reports_the_child_exit_code() -> None:
    assert run_pipeline(["store", "show", "--assets"]) == 0
    assert run_pipeline(["store", "show", "--no-such-flag"]) == 2


def test_dry_run_prints_next_times_and_cron_lines() -> None:
    done = CliRunner().invoke(cli, ["schedule", "--dry-run"])
    assert done.exit_code == 0, done.output
    assert "hpcast pipeline daily" in done.output and "18:30" in done.output
    assert "30 18 *   *   1-5  hpcast pipeline daily" in done.output
