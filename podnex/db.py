"""The async SQLAlchemy engine and session factory, shared by the API, the worker and the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from podnex.settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    """One pooled engine per process: DATABASE_POOL_SIZE connections kept, up to
    DATABASE_MAX_OVERFLOW more under load, a caller waits at most
    DATABASE_POOL_TIMEOUT_SECONDS for one, and connections older than
    DATABASE_POOL_RECYCLE_SECONDS (0: never) are replaced; each is checked before use."""
    recycle = settings.database_pool_recycle_seconds
    return create_async_engine(
        settings.resolved_database_url(),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        pool_recycle=recycle if recycle > 0 else -1,
        pool_pre_ping=True,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """An engine and its session factory, opened once per process and disposed at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessions = create_session_factory(self.engine)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
