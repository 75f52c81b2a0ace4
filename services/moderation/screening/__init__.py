"""Crisis screening: a transformer encoder with a small trained head, plus explainable rules.

Import cost matters (the `haven` CLI imports this package): torch and transformers are only
imported when a Screener is loaded.
"""

from services.moderation.screening.screener import (
    Screener,
    ScreenerLoadError,
    ScreeningInput,
    fail_closed_verdict,
)

__all__ = ["Screener", "ScreenerLoadError", "ScreeningInput", "fail_closed_verdict"]
