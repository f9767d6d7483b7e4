"""Run the Alembic migrations from code (dev stack, tests) or `python -m podnex.migrate`."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from podnex.settings import PROJECT_ROOT, settings_or_exit


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


async def upgrade_to_head(database_url: str) -> None:
    """Apply every pending migration, using one connection handed to Alembic."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            config = alembic_config(database_url)

            def run(sync_connection: object) -> None:
                config.attributes["connection"] = sync_connection
                command.upgrade(config, "head")

            await connection.run_sync(run)
    finally:
        await engine.dispose()


def main() -> None:
    asyncio.run(upgrade_to_head(settings_or_exit("migrate").resolved_database_url()))


if __name__ == "__main__":
    main()
