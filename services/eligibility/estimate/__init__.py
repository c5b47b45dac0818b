"""The estimate engine: pure functions from parsed benefits to a session's shares (no I/O).

Policy: DESIGN.md "Estimates". Money is integer cents; coinsurance is a Decimal fraction and
its share is rounded half up to the cent.
"""

from .projection import project_sessions, weekly
from .session import estimate_session
from .state import choose_network, initial_state, plan_year_end, reset_state

__all__ = [
    "choose_network",
    "estimate_session",
    "initial_state",
    "plan_year_end",
    "project_sessions",
    "reset_state",
    "weekly",
]
