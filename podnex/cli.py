"""The `podnex` command: user and key administration.

podnex users create --email E [--plan FREE] [--name N]   prints a new API key alone on stdout
podnex users set-plan --email E --plan PRO                moves a user to another plan
podnex users set-role --email E --role admin              gives a user a role (admin, user)
podnex keys create --email E [--name N]                   prints a new API key alone on stdout
podnex keys list --email E                                a table of the user's keys
podnex keys revoke --id KEY_ID                            revokes a key at once
podnex migrate                                            applies the database migrations

The API client (`podnex.client`; --api-url/--api-key or PODNEX_API_URL/PODNEX_API_KEY):
podnex make notes.md [--duration LONG] [--out episode.mp3] makes a podcast with a progress bar
podnex status ID | podnex list | podnex cancel ID
podnex feed [show|rotate|revoke]                           your private podcast feed (RSS)

Errors (unknown user, unknown key) go to stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from podnex import accounts
from podnex.client import CLIENT_COMMANDS, add_client_commands, run_client
from podnex.db import Database
from podnex.embedded import start_embedded_postgres
from podnex.migrate import upgrade_to_head
from podnex.models import ApiKey
from podnex.plans import Plan
from podnex.settings import Settings, settings_or_exit
from podnex.vocabulary import Role

Handler = Callable[[AsyncSession, argparse.Namespace], Awaitable[str]]
PLAN_CHOICES = [p.value for p in Plan]


def ensure_database(settings: Settings) -> object | None:
    """Start the embedded server when DATABASE_URL is unset (a no-op if `make dev` runs it)."""
    if settings.database_url:
        return None
    return start_embedded_postgres(settings.pgdata_dir)


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def key_table(keys: Sequence[ApiKey]) -> str:
    """The keys as an aligned text table: id, prefix, name, created, last used, revoked."""
    header = ("ID", "PREFIX", "NAME", "CREATED", "LAST USED", "REVOKED")
    rows = [header] + [
        (
            str(k.id),
            k.prefix,
            k.name,
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
        for k in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


async def users_create(session: AsyncSession, args: argparse.Namespace) -> str:
    """Create a user and a first key; the output is the key."""
    user = await accounts.create_user(
        session, email=args.email, plan=Plan(args.plan), name=args.name
    )
    created = await accounts.create_api_key(session, user.id, "cli")
    return created.plaintext


async def users_set_plan(session: AsyncSession, args: argparse.Namespace) -> str:
    """Move a user to another plan."""
    subscription = await accounts.set_plan(session, args.email, Plan(args.plan))
    return f"{args.email.strip().lower()}: plan {subscription.plan.value}"


async def users_set_role(session: AsyncSession, args: argparse.Namespace) -> str:
    """Give a user a role."""
    user = await accounts.set_role(session, args.email, Role(args.role))
    return f"{user.email}: role {user.role.value}"


async def keys_create(session: AsyncSession, args: argparse.Namespace) -> str:
    """Create a key for an existing user; the output is the key."""
    user = await accounts.require_user_by_email(session, args.email)
    created = await accounts.create_api_key(session, user.id, args.name)
    return created.plaintext


async def keys_list(session: AsyncSession, args: argparse.Namespace) -> str:
    """Every key of a user, revoked ones included, newest first."""
    user = await accounts.require_user_by_email(session, args.email)
    return key_table(await accounts.list_api_keys(session, user.id, include_revoked=True))


async def keys_revoke(session: AsyncSession, args: argparse.Namespace) -> str:
    """Revoke a live key by id, whoever owns it."""
    if not await accounts.revoke_any_api_key(session, args.id):
        raise accounts.AccountError(f"no live API key with id {args.id}")
    return f"API key {args.id} revoked"


HANDLERS: dict[tuple[str, str], Handler] = {
    ("users", "create"): users_create,
    ("users", "set-plan"): users_set_plan,
    ("users", "set-role"): users_set_role,
    ("keys", "create"): keys_create,
    ("keys", "list"): keys_list,
    ("keys", "revoke"): keys_revoke,
}


async def run_handler(settings: Settings, handler: Handler, args: argparse.Namespace) -> str:
    """Run one command in one transaction: all of it is stored, or nothing on an error."""
    db = Database(settings)
    try:
        async with db.transaction() as session:
            return await handler(session, args)
    finally:
        await db.dispose()


def _key_name(value: str) -> str:
    name = value.strip()
    if not 1 <= len(name) <= 100:
        raise argparse.ArgumentTypeError("must be 1 to 100 characters")
    return name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podnex", description="podnex administration and API client"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations")

    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="action", required=True
    )
    create = users.add_parser("create", help="create a user and print an API key")
    create.add_argument("--email", required=True)
    create.add_argument("--plan", choices=PLAN_CHOICES, default=Plan.FREE.value)
    create.add_argument("--name")
    set_plan = users.add_parser("set-plan", help="move a user to another plan")
    set_plan.add_argument("--email", required=True)
    set_plan.add_argument("--plan", choices=PLAN_CHOICES, required=True)
    set_role = users.add_parser("set-role", help="give a user a role (admin or user)")
    set_role.add_argument("--email", required=True)
    set_role.add_argument("--role", type=str.upper, choices=[r.value for r in Role], required=True)

    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    key_create = keys.add_parser("create", help="create an API key and print it")
    key_create.add_argument("--email", required=True)
    key_create.add_argument("--name", type=_key_name, default="cli")
    key_list = keys.add_parser("list", help="list a user's API keys")
    key_list.add_argument("--email", required=True)
    key_revoke = keys.add_parser("revoke", help="revoke an API key")
    key_revoke.add_argument("--id", required=True)
    add_client_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        return run_client(args)  # an API client: no settings, no database
    settings = settings_or_exit("podnex")
    server = ensure_database(settings)
    try:
        if args.command == "migrate":
            asyncio.run(upgrade_to_head(settings.resolved_database_url()))
            print("migrations applied", file=sys.stderr)
            return 0
        try:
            output = asyncio.run(run_handler(settings, HANDLERS[(args.command, args.action)], args))
        except accounts.AccountError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(output)
        return 0
    finally:
        del server


if __name__ == "__main__":
    raise SystemExit(main())
