"""A Stripe object found by Hearth's id in its metadata: its list paged through, never the
Search API (it lags). Shared by the payments and payouts adapters, which pass their own call
wrapper (their errors) and list method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Call = Callable[[Any], Awaitable[Any]]


async def first_with_metadata(
    call: Call, list_async: Any, params: dict[str, Any], key: str, value: str
) -> Any:
    """The first listed object whose metadata has key = value, page after page; None."""
    params = dict(params)
    while True:
        page = await call(lambda p=dict(params): list_async(params=p))
        for obj in page.data:
            metadata = getattr(obj, "metadata", None)
            if metadata is not None and getattr(metadata, key, None) == value:
                return obj
        if not page.has_more or not page.data:
            return None
        params["starting_after"] = page.data[-1].id
