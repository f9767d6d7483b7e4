"""Exact accounting: atomic reservations, one charge per podcast, monthly roll-over, 503s."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from api.app import create_app
from podnex import quota
from podnex.db import Database
from podnex.models import Podcast, PodcastDuration, Subscription, UsageRecord
from podnex.plans import Plan
from podnex.settings import Settings
from tests.conftest import ApiUser, LiveApi, make_user
from tests.integration.notes import NOTES
from tests.integration.podcasts import stored_podcast


async def subscription_of(db: Database, owner: ApiUser) -> Subscription:
    async with db.transaction() as session:
        found = await session.scalar(select(Subscription).where(Subscription.user_id == owner.id))
    assert found is not None
    return found


async def test_usage_is_charged_once_in_actual_seconds(db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    podcast = await stored_podcast(db, owner)
    async with db.transaction() as session:
        assert await quota.charge_usage(session, podcast.id, 59.0)
    async with db.transaction() as session:
        assert not await quota.charge_usage(session, podcast.id, 59.0)
        records = (
            await session.scalars(select(UsageRecord).where(UsageRecord.podcast_id == podcast.id))
        ).all()
    assert [r.amount for r in records] == [59.0]
    subscription = await subscription_of(db, owner)
    assert subscription.current_seconds_used == 59.0
    assert quota.minutes(subscription.current_seconds_used) == 0.98


async def test_reservation_is_idempotent_and_released_once(db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    podcast = await stored_podcast(db, owner)
    now = datetime.now(UTC)
    for _ in range(2):
        async with db.transaction() as session:
            reservation = await quota.reserve_podcast(session, podcast.id, now)
            assert reservation.admitted
    assert (await subscription_of(db, owner)).current_podcast_count == 1
    for expected in (True, False):
        async with db.transaction() as session:
            assert await quota.release_podcast(session, podcast.id) is expected
    assert (await subscription_of(db, owner)).current_podcast_count == 0


async def test_minutes_limit_refuses_when_used_up(db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_seconds_used=25 * 60)
        )
    podcast = await stored_podcast(db, owner)
    async with db.transaction() as session:
        reservation = await quota.reserve_podcast(session, podcast.id, datetime.now(UTC))
    assert not reservation.admitted
    assert reservation.reason == "Monthly minutes limit reached (25)"
    assert reservation.current.minutes == 25.0


async def test_period_rolls_over_with_injected_time(db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    before = await subscription_of(db, owner)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_podcast_count=5, current_seconds_used=1500)
        )
    podcast = await stored_podcast(db, owner)
    later = before.current_period_end + timedelta(days=40)
    async with db.transaction() as session:
        reservation = await quota.reserve_podcast(session, podcast.id, later)
    assert reservation.admitted
    after = await subscription_of(db, owner)
    assert after.current_podcast_count == 1 and after.current_seconds_used == 0
    assert after.current_period_start <= later < after.current_period_end
    assert after.current_period_start > before.current_period_end


async def test_business_is_unlimited(db: Database) -> None:
    owner = await make_user(db, Plan.BUSINESS)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_podcast_count=100_000, current_seconds_used=10**9)
        )
    podcast = await stored_podcast(db, owner)
    async with db.transaction() as session:
        reservation = await quota.reserve_podcast(session, podcast.id, datetime.now(UTC))
    assert reservation.admitted and reservation.limits.unlimited


async def test_concurrent_requests_never_pass_the_limit(
    api: LiveApi, db: Database, worker: object
) -> None:
    owner = await make_user(db, Plan.FREE)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_podcast_count=2)
        )
    responses = await asyncio.gather(
        *(
            api.client.post("/api/v1/podcasts", headers=owner.headers, json={"noteContent": NOTES})
            for _ in range(20)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [403] * 17, [r.text for r in responses if r.status_code >= 500]
    for refused in (r for r in responses if r.status_code == 403):
        body = refused.json()
        assert body["error"] == "Subscription limit reached"
        assert body["details"]["reason"] == "Monthly podcast limit reached (5)"
        assert body["details"]["limits"] == {"podcasts": 5, "minutes": 25}
    assert (await subscription_of(db, owner)).current_podcast_count == 5

    admitted = [r.json()["data"]["id"] for r in responses if r.status_code == 201]
    for podcast_id in admitted:  # let the admitted runs finish before the worker stops
        for _ in range(600):
            status = await api.client.get(
                f"/api/v1/podcasts/{podcast_id}/status", headers=owner.headers
            )
            if status.json()["data"]["status"] == "COMPLETED":
                break
            await asyncio.sleep(0.2)
        assert status.json()["data"]["status"] == "COMPLETED"
    assert (await subscription_of(db, owner)).current_podcast_count == 5


async def test_temporal_unreachable_is_503_and_leaves_no_queued_row(
    settings: Settings, db: Database
) -> None:
    owner = await make_user(db, Plan.FREE)
    unreachable = settings.model_copy(update={"temporal_address": "127.0.0.1:9"})
    headers = {**owner.headers, "Idempotency-Key": "create-once"}
    async with AsyncTestClient(app=create_app(unreachable)) as client:
        for _ in range(2):  # the same request again is another try, not a replay
            response = await client.post(
                "/api/v1/podcasts", headers=headers, json={"noteContent": NOTES}
            )
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    async with db.transaction() as session:
        rows = (await session.scalars(select(Podcast).where(Podcast.user_id == owner.id))).all()
    assert rows == []  # a podcast that could not start is not kept
    assert (await subscription_of(db, owner)).current_podcast_count == 0


async def test_release_after_roll_over_leaves_the_new_period_alone(db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    start = (await subscription_of(db, owner)).current_period_start
    old = await stored_podcast(db, owner)
    new = await stored_podcast(db, owner)
    async with db.transaction() as session:
        assert (await quota.reserve_podcast(session, old.id, start + timedelta(days=1))).admitted
    async with db.transaction() as session:
        later = start + timedelta(days=40)
        assert (await quota.reserve_podcast(session, new.id, later)).admitted
    assert (await subscription_of(db, owner)).current_podcast_count == 1
    async with db.transaction() as session:
        assert await quota.release_podcast(session, old.id)
    assert (await subscription_of(db, owner)).current_podcast_count == 1
    async with db.transaction() as session:
        assert await quota.release_podcast(session, new.id)
    assert (await subscription_of(db, owner)).current_podcast_count == 0


async def test_minutes_are_reserved_at_admission_so_concurrent_podcasts_cannot_overrun(
    db: Database,
) -> None:
    owner = await make_user(db, Plan.FREE)  # 25 minutes; a LONG podcast reserves 15
    longs = [await stored_podcast(db, owner) for _ in range(5)]
    async with db.transaction() as session:
        await session.execute(
            update(Podcast)
            .where(Podcast.id.in_([p.id for p in longs]))
            .values(duration=PodcastDuration.LONG)
        )

    async def reserve(podcast: Podcast) -> quota.Reservation:
        async with db.transaction() as session:
            return await quota.reserve_podcast(session, podcast.id, datetime.now(UTC))

    reservations = await asyncio.gather(*(reserve(p) for p in longs))
    admitted = [r for r in reservations if r.admitted]
    assert len(admitted) == 1
    for refused in (r for r in reservations if not r.admitted):
        assert refused.reason == (
            "Not enough minutes left this month for a LONG podcast (about 15 needed, 10 of 25 left)"
        )
    subscription = await subscription_of(db, owner)
    assert subscription.current_podcast_count == 1
    assert subscription.current_seconds_reserved == 15 * 60

    short = await stored_podcast(db, owner)  # SHORT: 5 of the 10 left still fit
    assert (await reserve(short)).admitted
    assert (await subscription_of(db, owner)).current_seconds_reserved == 20 * 60


async def test_completion_settles_the_reserved_minutes_to_the_actual_seconds(
    db: Database,
) -> None:
    owner = await make_user(db, Plan.FREE)
    done, cancelled = await stored_podcast(db, owner), await stored_podcast(db, owner)
    now = datetime.now(UTC)
    for podcast in (done, cancelled):
        async with db.transaction() as session:
            assert (await quota.reserve_podcast(session, podcast.id, now)).admitted
    assert (await subscription_of(db, owner)).current_seconds_reserved == 2 * 5 * 60
    for _ in range(2):  # a retried charge settles once
        async with db.transaction() as session:
            await quota.charge_usage(session, done.id, 59.0)
    async with db.transaction() as session:
        assert await quota.release_podcast(session, cancelled.id)
    subscription = await subscription_of(db, owner)
    assert subscription.current_seconds_reserved == 0
    assert subscription.current_seconds_used == 59.0
    assert subscription.current_podcast_count == 1
