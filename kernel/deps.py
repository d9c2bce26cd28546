"""FastAPI dependencies every service uses: `SessionDep`, `PrincipalDep`, `RuntimeDep`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import Unauthenticated
from kernel.principal import Principal
from kernel.runtime import ServiceRuntime


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


READING_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for the request; the router commits, an exception rolls back.

    GET and HEAD only read: their sessions don't take SQLite's write lock. A GET that writes
    (e.g. records who read personal data) asks for `WritingSessionDep`."""
    runtime = get_runtime(request)
    reads = request.method in READING_METHODS
    maker = runtime.read_sessionmaker if reads else runtime.sessionmaker
    async with maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise


async def get_writing_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session that may write, whatever the method."""
    async with get_runtime(request).sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise


async def get_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise Unauthenticated("no principal on this request")
    return principal


async def runtime_dependency(request: Request) -> ServiceRuntime:
    # Dependencies are async: FastAPI runs a plain `def` one in a worker thread per request.
    return get_runtime(request)


RuntimeDep = Annotated[ServiceRuntime, Depends(runtime_dependency)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
WritingSessionDep = Annotated[AsyncSession, Depends(get_writing_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
