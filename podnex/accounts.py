"""Users, their profile and subscription, and their API keys."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from podnex import apikeys, audit, billing
from podnex.models import ApiKey, Subscription, SubscriptionStatus, User
from podnex.periods import add_months, current_period
from podnex.plans import Plan, PlanLimits, limits_for
from podnex.quota import minutes
from podnex.vocabulary import Role

PROFILE_FIELDS = frozenset({"name", "image"})


class AccountError(Exception):
    """A request about an account that cannot be met (duplicate e-mail, unknown user or key)."""


class ApiKeyLimitReached(AccountError):
    """The user already has as many live keys as allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"API key limit reached: at most {limit} active keys per user; "
            "revoke one before creating another"
        )
        self.limit = limit


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    plaintext: str


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as of a moment: a period that has ended reads as the current, empty one."""

    id: uuid.UUID
    user_id: uuid.UUID
    plan: Plan
    status: SubscriptionStatus
    podcasts_used: int
    seconds_used: float
    period_start: datetime
    period_end: datetime
    limits: PlanLimits
    created_at: datetime
    updated_at: datetime
    renews: bool = False
    """Whether a paid subscription renews at the period's end."""
    scheduled_plan: Plan | None = None
    """The plan from the period's end (a downgrade or cancellation), if any."""

    @property
    def minutes_used(self) -> float:
        """Seconds used this period, as minutes with two decimals."""
        return minutes(self.seconds_used)


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


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
    """The user with this e-mail (case and surrounding spaces ignored), or None."""
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def require_user_by_email(session: AsyncSession, email: str) -> User:
    """The user with this e-mail; AccountError when there is none."""
    user = await get_user_by_email(session, email)
    if user is None:
        raise AccountError(f"no user with e-mail {email.strip().lower()}")
    return user


async def update_profile(
    session: AsyncSession, user_id: uuid.UUID, changes: Mapping[str, str | None]
) -> User | None:
    """Apply the given profile fields (name, image; None clears one). None if no such user."""
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"not profile fields: {', '.join(sorted(unknown))}")
    user = await session.get(User, user_id)
    if user is None:
        return None
    for field, value in changes.items():
        setattr(user, field, value)
    await session.flush()
    await session.refresh(user)
    return user


async def set_plan(
    session: AsyncSession, email: str, plan: Plan, *, actor: str = "cli"
) -> Subscription:
    """Move the user with this e-mail to `plan`; limits follow from the plan at once."""
    user = await require_user_by_email(session, email)
    subscription = await session.scalar(
        select(Subscription).where(Subscription.user_id == user.id).with_for_update()
    )
    if subscription is None:
        raise AccountError(f"user {user.email} has no subscription")
    before = subscription.plan.value
    subscription.plan = plan
    subscription.pending_plan = None
    audit.record_change(
        session,
        actor=actor,
        action="user.plan",
        target_user_id=user.id,
        before={"plan": before},
        after={"plan": plan.value},
    )
    await session.flush()
    return subscription


async def set_role(session: AsyncSession, email: str, role: Role, *, actor: str = "cli") -> User:
    """Give the user with this e-mail a role (ADMIN opens the /api/v1/admin routes)."""
    user = await require_user_by_email(session, email)
    audit.record_change(
        session,
        actor=actor,
        action="user.role",
        target_user_id=user.id,
        before={"role": user.role.value},
        after={"role": role.value},
    )
    user.role = role
    await session.flush()
    return user


async def admin_update_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    admin: User,
    plan: Plan | None = None,
    disabled: bool | None = None,
    role: Role | None = None,
) -> User | None:
    """An administrator's change to a user (plan, disabled, role), audited with who made
    it. A disabled user's keys are refused from the next request on. None: no such user."""
    user = await session.scalar(select(User).where(User.id == user_id).with_for_update())
    subscription = await session.scalar(
        select(Subscription).where(Subscription.user_id == user_id).with_for_update()
    )
    if user is None or subscription is None:
        return None
    before = _admin_fields(user, subscription)
    if plan is not None:
        subscription.plan = plan
        subscription.pending_plan = None
    if disabled is not None and disabled != (user.disabled_at is not None):
        user.disabled_at = datetime.now(UTC) if disabled else None
    if role is not None:
        user.role = role
    audit.record_change(
        session,
        actor=f"admin:{admin.email}",
        actor_user_id=admin.id,
        action="admin.user.update",
        target_user_id=user.id,
        before=before,
        after=_admin_fields(user, subscription),
    )
    await session.flush()
    return user


def _admin_fields(user: User, subscription: Subscription) -> dict[str, object]:
    return {
        "plan": subscription.plan.value,
        "disabled": user.disabled_at is not None,
        "role": user.role.value,
    }


async def get_subscription(session: AsyncSession, user_id: uuid.UUID) -> Subscription | None:
    """The user's subscription row, or None."""
    return await session.scalar(select(Subscription).where(Subscription.user_id == user_id))


def subscription_view(subscription: Subscription, now: datetime) -> SubscriptionView:
    """The subscription as of `now`, without writing: a passed period shows its successor."""
    start, end = subscription.current_period_start, subscription.current_period_end
    podcasts, seconds = subscription.current_podcast_count, subscription.current_seconds_used
    plan, scheduled = subscription.plan, subscription.pending_plan
    if now >= end:
        start, end = current_period(start, end, now)
        podcasts, seconds = 0, 0.0
        plan, scheduled = scheduled or plan, None
    return SubscriptionView(
        id=subscription.id,
        user_id=subscription.user_id,
        plan=plan,
        status=subscription.status,
        podcasts_used=podcasts,
        seconds_used=seconds,
        period_start=start,
        period_end=end,
        limits=limits_for(plan),
        created_at=subscription.created_at,
        updated_at=subscription.updated_at,
        renews=scheduled is None and billing.renews(subscription),
        scheduled_plan=scheduled,
    )


async def create_api_key(
    session: AsyncSession, user_id: uuid.UUID, name: str, *, limit: int | None = None
) -> CreatedKey:
    """A new key for the user; the plaintext exists only in the returned value.

    With `limit`, ApiKeyLimitReached when the user already has that many live keys (the
    user's row is locked meanwhile, so concurrent requests cannot pass the limit together).
    """
    if limit is not None:
        await session.execute(select(User.id).where(User.id == user_id).with_for_update())
        live = await session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        )
        if (live or 0) >= limit:
            raise ApiKeyLimitReached(limit)
    new = apikeys.generate_key()
    key = ApiKey(user_id=user_id, name=name, prefix=new.prefix, key_hash=new.key_hash)
    session.add(key)
    await session.flush()
    return CreatedKey(api_key=key, plaintext=new.plaintext)


async def list_api_keys(
    session: AsyncSession, user_id: uuid.UUID, *, include_revoked: bool = False
) -> list[ApiKey]:
    """The user's keys, newest first; only live ones unless `include_revoked`."""
    query = select(ApiKey).where(ApiKey.user_id == user_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    rows = await session.scalars(query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc()))
    return list(rows)


async def _revoke(session: AsyncSession, key_id: str, *conditions: Any) -> bool:
    parsed = _parse_uuid(key_id)
    if parsed is None:
        return False
    revoked = await session.scalar(
        update(ApiKey)
        .where(ApiKey.id == parsed, ApiKey.revoked_at.is_(None), *conditions)
        .values(revoked_at=datetime.now(UTC))
        .returning(ApiKey.id)
    )
    return revoked is not None


async def revoke_api_key(session: AsyncSession, user_id: uuid.UUID, key_id: str) -> bool:
    """Revoke one of the user's live keys. False when the user has no live key with that id."""
    return await _revoke(session, key_id, ApiKey.user_id == user_id)


async def revoke_any_api_key(session: AsyncSession, key_id: str) -> bool:
    """Revoke a live key whoever owns it (administration). False when there is none."""
    return await _revoke(session, key_id)


LAST_USED_RESOLUTION = timedelta(minutes=1)
"""How stale a key's `last_used_at` may be: recorded at most once a minute, so a busy key
does not turn every request into a database write."""


async def authenticate(session: AsyncSession, plaintext: str) -> User | None:
    """The owner of a live key, recording when it was last used; None for unknown or revoked
    keys, and for keys of a disabled user."""
    key_hash = apikeys.hash_key(plaintext)
    row = (
        await session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(
                ApiKey.key_hash == key_hash,
                ApiKey.revoked_at.is_(None),
                User.disabled_at.is_(None),  # a disabled user's keys stop at once
            )
        )
    ).first()
    if row is None:
        return None
    key, user = row
    if not apikeys.matches(plaintext, key.key_hash):
        return None
    now = datetime.now(UTC)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    return user
