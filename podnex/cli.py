"""The `podnex` command: user and key administration.

podnex users create --email E [--plan FREE] [--name N]   prints a new API key alone on stdout
podnex migrate                                            applies the database migrations
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from podnex import accounts
from podnex.db import Database
from podnex.embedded import start_embedded_postgres
from podnex.migrate import upgrade_to_head
from podnex.plans import Plan
from podnex.settings import Settings, get_settings


def ensure_database(settings: Settings) -> object | None:
    """Start the embedded server when DATABASE_URL is unset (a no-op if `make dev` runs it)."""
    if settings.database_url:
        return None
    return start_embedded_postgres(settings.pgdata_dir)


async def create_user(settings: Settings, email: str, plan: Plan, name: str | None) -> str:
    db = Database(settings)
    try:
        async with db.transaction() as session:
            user = await accounts.create_user(session, email=email, plan=plan, name=name)
            created = await accounts.create_api_key(session, user.id, "cli")
        return created.plaintext
    finally:
        await db.dispose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podnex", description="podnex administration")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations")
    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="action", required=True
    )
    create = users.add_parser("create", help="create a user and print an API key")
    create.add_argument("--email", required=True)
    create.add_argument("--plan", choices=[p.value for p in Plan], default=Plan.FREE.value)
    create.add_argument("--name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    server = ensure_database(settings)
    try:
        if args.command == "migrate":
            asyncio.run(upgrade_to_head(settings.resolved_database_url()))
            print("migrations applied", file=sys.stderr)
            return 0
        if args.command == "users" and args.action == "create":
            try:
                key = asyncio.run(create_user(settings, args.email, Plan(args.plan), args.name))
            except accounts.AccountError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            print(key)
            return 0
    finally:
        del server
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
