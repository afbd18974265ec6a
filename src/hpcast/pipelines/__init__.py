"""Pipelines: the daily store update, the monthly retrain with drift checks and promotion, the scheduler."""

from hpcast.pipelines.daily import daily
from hpcast.pipelines.drift import DriftReport, return_shift
from hpcast.pipelines.retrain import Decision, decide, retrain, retrain_asset

__all__ = ["Decision", "DriftReport", "daily", "decide", "retrain", "retrain_asset", "return_shift"]
