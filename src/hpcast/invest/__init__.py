"""The investor's answer: an allocation and a horizon in, a distribution of outcomes after inflation out."""

from hpcast.errors import InputError
from hpcast.invest.advisor import Advisor
from hpcast.invest.calibrate import Calibration, calibrate
from hpcast.invest.market import CASH, Market
from hpcast.invest.outlook import Outlook, Outlooks
from hpcast.invest.simulate import Plan, Simulation, plan, simulate

__all__ = ["CASH", "Advisor", "Calibration", "InputError", "Market", "Outlook", "Outlooks", "Plan", "Simulation",
           "calibrate", "plan", "simulate"]
