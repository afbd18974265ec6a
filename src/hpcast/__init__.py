"""hpcast: forecast financial time series with LSTM networks, honestly and fast.

Importing hpcast does nothing heavy: torch, statsmodels, yfinance and matplotlib load on first use.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
