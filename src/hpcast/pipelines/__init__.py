"""Pipelines: the daily store update, the monthly retrain with drift checks and promotion, the scheduler."""

from hpcast.pipelines.daily import daily
from hpcast.pipelines.drift import DriftReport, panel_shift, return_shift
from hpcast.pipelines.retrain import Decision, decide, retrain, retrain_asset, retrain_model

__all__ = ["Decision", "DriftReport", "daily", "decide", "panel_shift", "retrain", "retrain_asset", "retrain_model",
           "return_shift"]
