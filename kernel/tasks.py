"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None, *, grace: float = 1.0) -> None:
    """Cancel `task` until it has ended. A task may absorb one cancellation (e.g. inside
    `asyncio.wait_for` on Python 3.11, CPython gh-86296), so cancel again until it is done."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=grace)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
