"""Users, their subscription and their API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from podnex import apikeys
from podnex.models import ApiKey, Subscription, User
from podnex.periods import add_months
from podnex.plans import Plan


class AccountError(Exception):
    """A request about an account that cannot be met (duplicate e-mail, unknown user)."""


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    plaintext: str


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    plan: Plan = Plan.FREE,
    name: str | None = None,
    now: datetime | None = None,
) -> User:
    """A user with an active subscription whose first period starts now."""
    email = email.strip().lower()
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"a user with e-mail {email} already exists")
    start = now or datetime.now(UTC)
    user = User(email=email, name=name)
    session.add(user)
    await session.flush()
    session.add(
        Subscription(
            user_id=user.id,
            plan=plan,
            current_podcast_count=0,
            current_seconds_used=0.0,
            current_period_start=start,
            current_period_end=add_months(start, 1),
        )
    )
    await session.flush()
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def create_api_key(session: AsyncSession, user_id: uuid.UUID, name: str) -> CreatedKey:
    new = apikeys.generate_key()
    key = ApiKey(user_id=user_id, name=name, prefix=new.prefix, key_hash=new.key_hash)
    session.add(key)
    await session.flush()
    return CreatedKey(api_key=key, plaintext=new.plaintext)


async def authenticate(session: AsyncSession, plaintext: str) -> User | None:
    """The owner of a live key, recording when it was last used; None for unknown or revoked."""
    key_hash = apikeys.hash_key(plaintext)
    row = (
        await session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    key, user = row
    if not apikeys.matches(plaintext, key.key_hash):
        return None
    await session.execute(
        update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=datetime.now(UTC))
    )
    return user
