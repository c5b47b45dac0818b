"""The estimate engine: pure functions from parsed benefits to sessions' figures (no I/O).

Policy: DESIGN.md "Estimates". Money is integer cents; coinsurance is a Decimal fraction and
its share is rounded half up to the cent, in integers. The engine returns figures and facts
(`SessionFigures`, `ProjectionFigures`); their text is written only when rendered
(estimate_view.py, with the words in lines.py). Inputs out of range raise EstimateInputError.
"""

from .checks import EstimateInputError, EstimateInvariantError
from .projection import project_sessions, weekly
from .session import Plan, estimate_session
from .state import choose_network, initial_state, plan_year_end, reset_state, year_end_holding

__all__ = [
    "EstimateInputError",
    "EstimateInvariantError",
    "Plan",
    "choose_network",
    "estimate_session",
    "initial_state",
    "plan_year_end",
    "project_sessions",
    "reset_state",
    "weekly",
    "year_end_holding",
]
