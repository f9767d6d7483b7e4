"""Paid plans through the real API and database: checkout, customer and portal calls made by
the real `dodopayments` SDK to a local server speaking Dodo's API on loopback, and webhooks
signed with the Standard Webhooks library."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from api.app import create_app
from podnex import billing
from podnex.db import Database
from podnex.models import AuditEvent, BillingEvent, Subscription
from podnex.plans import Plan
from podnex.settings import DodoSettings, Settings
from tests.conftest import ApiUser, LiveApi, make_user, serve

SECRET = "whsec_" + base64.b64encode(b"podnex-test-dodo-webhook-secret!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"someone-else-s-secret-0123456789").decode()
PRODUCTS = {Plan.STARTER: "pdt_starter", Plan.PRO: "pdt_pro", Plan.BUSINESS: "pdt_business"}
HOOK = "/api/v1/billing/webhooks/dodo"


@dataclass
class FakeDodo:
    """Dodo Payments' API as far as podnex calls it: customers, checkouts, portal sessions."""

    url: str = ""
    calls: list[tuple[str, str, dict[str, Any], str]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        payload = json.loads(body) if body else {}
        method, path = scope["method"], scope["path"]
        self.calls.append((method, path, payload, headers.get("authorization", "")))
        now = datetime.now(UTC).isoformat()
        status, answer = 404, {"message": "not found"}
        if (method, path) == ("POST", "/customers"):
            customer_id = f"cus_{uuid.uuid4().hex[:12]}"
            answer = {
                "business_id": "bus_test",
                "created_at": now,
                "customer_id": customer_id,
                "email": payload["email"],
                "name": payload["name"],
                "metadata": payload.get("metadata", {}),
            }
            self.customers[customer_id] = answer
            status = 200
        elif (method, path) == ("POST", "/checkouts"):
            session_id = f"cks_{uuid.uuid4().hex[:12]}"
            status, answer = (
                200,
                {
                    "session_id": session_id,
                    "checkout_url": f"https://test.checkout.dodopayments.com/session/{session_id}",
                },
            )
        elif method == "POST" and path.endswith("/customer-portal/session"):
            customer_id = path.split("/")[2]
            if customer_id in self.customers:
                status, answer = 200, {"link": f"https://portal.example/{customer_id}"}
        raw = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    def calls_to(self, path: str) -> list[tuple[str, str, dict[str, Any], str]]:
        return [call for call in self.calls if call[1] == path]


@pytest.fixture(scope="module")
async def dodo() -> AsyncIterator[FakeDodo]:
    fake = FakeDodo()
    async with serve(fake) as live:
        fake.url = live.base_url
        yield fake


def billing_settings(settings: Settings, dodo_url: str) -> Settings:
    return settings.model_copy(
        update={
            "dodo": DodoSettings(
                api_key="dodo-test-key",  # type: ignore[arg-type]
                webhook_secret=SECRET,  # type: ignore[arg-type]
                base_url=dodo_url,
                product_starter=PRODUCTS[Plan.STARTER],
                product_pro=PRODUCTS[Plan.PRO],
                product_business=PRODUCTS[Plan.BUSINESS],
            )
        }
    )


@pytest.fixture(scope="module")
async def paid_api(settings: Settings, dodo: FakeDodo) -> AsyncIterator[LiveApi]:
    async with serve(create_app(billing_settings(settings, dodo.url))) as live:
        yield live


# -- helpers ----------------------------------------------------------------------------------


def event(
    kind: str,
    user: ApiUser | None,
    *,
    product: Plan = Plan.PRO,
    at: datetime | None = None,
    subscription_id: str = "sub_1",
    start: datetime | None = None,
    end: datetime | None = None,
    cancel_at_next: bool = False,
    status: str = "active",
) -> dict[str, Any]:
    at = at or datetime.now(UTC)
    start = start or datetime.now(UTC) - timedelta(minutes=1)
    end = end or start + timedelta(days=30)
    return {
        "business_id": "bus_test",
        "type": f"subscription.{kind}",
        "timestamp": at.isoformat(),
        "data": {
            "payload_type": "Subscription",
            "subscription_id": subscription_id,
            "product_id": PRODUCTS[product],
            "status": status,
            "customer": {
                "customer_id": f"cus_{user.id.hex[:12]}" if user else "cus_nobody",
                "email": "x@example.com",
                "name": "x",
            },
            "metadata": {billing.USER_METADATA_KEY: str(user.id)} if user else {},
            "previous_billing_date": start.isoformat(),
            "next_billing_date": end.isoformat(),
            "cancel_at_next_billing_date": cancel_at_next,
        },
    }


def signed(
    payload: dict[str, Any],
    *,
    secret: str = SECRET,
    msg_id: str | None = None,
    timestamp: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = timestamp or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return body, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


async def deliver(api: LiveApi, body: bytes, headers: dict[str, str]) -> Any:
    return await api.client.post(HOOK, content=body, headers=headers)


async def subscription_of(db: Database, user: ApiUser) -> Subscription:
    async with db.transaction() as session:
        row = await session.scalar(select(Subscription).where(Subscription.user_id == user.id))
    assert row is not None
    return row


async def changes_of(db: Database, user: ApiUser) -> list[AuditEvent]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_user_id == user.id)
            .order_by(AuditEvent.created_at)
        )
    return list(rows)


# -- off unless configured ----------------------------------------------------------------------


async def test_billing_is_off_without_settings(api: LiveApi, user: ApiUser) -> None:
    checkout = await api.client.post(
        "/api/v1/billing/checkout", headers=user.headers, json={"plan": "PRO"}
    )
    assert checkout.status_code == 404 and checkout.json()["code"] == "BILLING_DISABLED"
    body, headers = signed(event("active", user))
    hook = await deliver(api, body, headers)
    assert hook.status_code == 404, hook.text


# -- checkout, customer and portal through the real SDK ------------------------------------------


async def test_checkout_creates_the_customer_once_and_returns_the_url(
    paid_api: LiveApi, dodo: FakeDodo, db: Database
) -> None:
    owner = await make_user(db, Plan.FREE)
    portal_before = await paid_api.client.post("/api/v1/billing/portal", headers=owner.headers)
    assert portal_before.status_code == 404, portal_before.text

    first = await paid_api.client.post(
        "/api/v1/billing/checkout", headers=owner.headers, json={"plan": "PRO"}
    )
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert data["checkoutUrl"].startswith("https://test.checkout.dodopayments.com/session/cks_")
    assert data["sessionId"].startswith("cks_")

    customers = [c for c in dodo.calls_to("/customers") if c[2]["email"] == owner.email]
    assert len(customers) == 1
    _, _, sent, auth = customers[0]
    assert auth == "Bearer dodo-test-key"
    assert sent["metadata"] == {billing.USER_METADATA_KEY: str(owner.id)}
    row = await subscription_of(db, owner)
    assert row.provider_customer_id is not None
    checkout = dodo.calls_to("/checkouts")[-1][2]
    assert checkout["product_cart"] == [{"product_id": PRODUCTS[Plan.PRO], "quantity": 1}]
    assert checkout["customer"] == {"customer_id": row.provider_customer_id}
    assert checkout["metadata"][billing.USER_METADATA_KEY] == str(owner.id)
    assert (await subscription_of(db, owner)).plan is Plan.FREE  # until the payment's webhook

    # a second checkout reuses the customer
    again = await paid_api.client.post(
        "/api/v1/billing/checkout", headers=owner.headers, json={"plan": "STARTER"}
    )
    assert again.status_code == 200, again.text
    assert len([c for c in dodo.calls_to("/customers") if c[2]["email"] == owner.email]) == 1
    assert dodo.calls_to("/checkouts")[-1][2]["customer"] == {
        "customer_id": row.provider_customer_id
    }

    portal = await paid_api.client.post("/api/v1/billing/portal", headers=owner.headers)
    assert portal.status_code == 200, portal.text
    assert portal.json()["data"]["url"] == f"https://portal.example/{row.provider_customer_id}"


async def test_checkout_refuses_free_and_unknown_plans(paid_api: LiveApi, user: ApiUser) -> None:
    for plan in ("FREE", "GOLD"):
        response = await paid_api.client.post(
            "/api/v1/billing/checkout", headers=user.headers, json={"plan": plan}
        )
        assert response.status_code == 400, response.text
    unauthenticated = await paid_api.client.post("/api/v1/billing/checkout", json={"plan": "PRO"})
    assert unauthenticated.status_code == 401


# -- webhooks -----------------------------------------------------------------------------------


async def test_a_valid_webhook_changes_the_plan_and_records_the_change(
    paid_api: LiveApi, db: Database
) -> None:
    owner = await make_user(db, Plan.FREE)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    end = start + timedelta(days=30)
    body, headers = signed(event("active", owner, start=start, end=end, subscription_id="sub_a"))
    response = await deliver(paid_api, body, headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["outcome"] == "applied"

    row = await subscription_of(db, owner)
    assert row.plan is Plan.PRO and row.provider_subscription_id == "sub_a"
    # the usage period follows the billing period
    assert (row.current_period_start, row.current_period_end) == (start, end)
    shown = await paid_api.client.get("/api/v1/user/subscription", headers=owner.headers)
    data = shown.json()["data"]
    assert (data["plan"], data["status"], data["renews"]) == ("PRO", "ACTIVE", True)
    assert datetime.fromisoformat(data["currentPeriodEnd"]) == end
    assert data["monthlyPodcastLimit"] == 200

    [change] = await changes_of(db, owner)
    assert change.actor == "dodo" and change.action == "subscription.active"
    assert change.event_id == headers["webhook-id"]
    assert change.details["plan"] == ["FREE", "PRO"]


@pytest.mark.parametrize("problem", ["tampered", "wrong secret", "old timestamp", "unsigned"])
async def test_a_webhook_that_fails_verification_is_401_and_changes_nothing(
    paid_api: LiveApi, db: Database, problem: str
) -> None:
    owner = await make_user(db, Plan.FREE)
    payload = event("active", owner, product=Plan.BUSINESS)
    if problem == "wrong secret":
        body, headers = signed(payload, secret=OTHER_SECRET)
    elif problem == "old timestamp":
        body, headers = signed(payload, timestamp=datetime.now(UTC) - timedelta(minutes=6))
    else:
        body, headers = signed(payload)
    if problem == "tampered":
        body = body.replace(b"pdt_business", b"pdt_businesz")
    if problem == "unsigned":
        del headers["webhook-signature"]
    response = await deliver(paid_api, body, headers)
    assert response.status_code == 401, response.text
    assert response.json()["success"] is False
    assert (await subscription_of(db, owner)).plan is Plan.FREE
    assert await changes_of(db, owner) == []
    async with db.transaction() as session:
        assert await session.get(BillingEvent, headers["webhook-id"]) is None


async def test_a_duplicate_delivery_changes_the_plan_once(paid_api: LiveApi, db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    body, headers = signed(event("active", owner, product=Plan.STARTER, subscription_id="sub_d"))
    first = await deliver(paid_api, body, headers)
    # the provider redelivers: same webhook-id, signed again a moment later
    payload = json.loads(body)
    later = datetime.now(UTC) + timedelta(seconds=2)
    body2, headers2 = signed(payload, msg_id=headers["webhook-id"], timestamp=later)
    second = await deliver(paid_api, body2, headers2)
    assert first.json()["data"]["outcome"] == "applied"
    assert second.status_code == 200 and second.json()["data"]["outcome"] == "duplicate"
    assert (await subscription_of(db, owner)).plan is Plan.STARTER
    assert len(await changes_of(db, owner)) == 1


async def test_out_of_order_events_leave_the_newest_state(paid_api: LiveApi, db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    t0 = datetime.now(UTC) - timedelta(minutes=3)
    active = event("active", owner, product=Plan.PRO, at=t0, subscription_id="sub_o")
    upgrade = event(
        "plan_changed",
        owner,
        product=Plan.BUSINESS,
        at=t0 + timedelta(minutes=2),
        subscription_id="sub_o",
    )
    # the newer plan change arrives first, the older activation afterwards
    for payload in (upgrade, active):
        response = await deliver(paid_api, *signed(payload))
        assert response.status_code == 200, response.text
    assert response.json()["data"]["outcome"] == "stale"
    row = await subscription_of(db, owner)
    assert row.plan is Plan.BUSINESS
    assert len(await changes_of(db, owner)) == 1


async def test_downgrade_and_cancellation_wait_for_the_period_end(
    paid_api: LiveApi, db: Database
) -> None:
    owner = await make_user(db, Plan.FREE)
    t0 = datetime.now(UTC) - timedelta(minutes=4)
    start = t0 - timedelta(days=1)
    common: dict[str, Any] = {"subscription_id": "sub_c", "start": start}
    for payload in (
        event("active", owner, product=Plan.BUSINESS, at=t0, **common),
        event("plan_changed", owner, product=Plan.STARTER, at=t0 + timedelta(minutes=1), **common),
    ):
        assert (await deliver(paid_api, *signed(payload))).status_code == 200
    row = await subscription_of(db, owner)
    assert (row.plan, row.pending_plan) == (Plan.BUSINESS, Plan.STARTER)  # paid until the end
    data = (await paid_api.client.get("/api/v1/user/subscription", headers=owner.headers)).json()[
        "data"
    ]
    assert (data["plan"], data["scheduledPlan"], data["renews"]) == ("BUSINESS", "STARTER", False)

    cancelled = event(
        "cancelled",
        owner,
        product=Plan.STARTER,
        at=t0 + timedelta(minutes=2),
        status="cancelled",
        **common,
    )
    assert (await deliver(paid_api, *signed(cancelled))).status_code == 200
    row = await subscription_of(db, owner)
    assert (row.plan, row.pending_plan, row.status.value) == (
        Plan.BUSINESS,
        Plan.FREE,
        "CANCELLED",
    )
    # the period ends: the next read and the next admission see FREE
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_period_end=datetime.now(UTC) - timedelta(seconds=1))
        )
    data = (await paid_api.client.get("/api/v1/user/subscription", headers=owner.headers)).json()[
        "data"
    ]
    assert (data["plan"], data["monthlyPodcastLimit"], data["renews"]) == ("FREE", 5, False)


async def test_a_failed_payment_keeps_the_plan_until_the_provider_gives_up(
    paid_api: LiveApi, db: Database
) -> None:
    owner = await make_user(db, Plan.FREE)
    t0 = datetime.now(UTC) - timedelta(minutes=4)
    common: dict[str, Any] = {"subscription_id": "sub_h", "product": Plan.PRO}
    steps = [
        ("active", "active", Plan.PRO, "ACTIVE"),
        ("on_hold", "on_hold", Plan.PRO, "PAST_DUE"),
        ("expired", "expired", Plan.FREE, "CANCELLED"),
    ]
    for i, (kind, status, plan, shown) in enumerate(steps):
        payload = event(kind, owner, at=t0 + timedelta(minutes=i), status=status, **common)
        response = await deliver(paid_api, *signed(payload))
        assert response.json()["data"]["outcome"] == "applied", response.text
        row = await subscription_of(db, owner)
        assert (row.plan, row.status.value) == (plan, shown), kind
    actions = [change.action for change in await changes_of(db, owner)]
    assert actions == ["subscription.active", "subscription.on_hold", "subscription.expired"]


async def test_a_renewal_starts_a_new_usage_period(paid_api: LiveApi, db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    t0 = datetime.now(UTC) - timedelta(minutes=4)
    start = (t0 - timedelta(days=30)).replace(microsecond=0)
    first = event("active", owner, at=t0, subscription_id="sub_r", start=start)
    assert (await deliver(paid_api, *signed(first))).status_code == 200
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_podcast_count=7, current_seconds_used=600.0)
        )
    new_start = start + timedelta(days=30)
    renewed = event(
        "renewed", owner, at=t0 + timedelta(minutes=1), subscription_id="sub_r", start=new_start
    )
    assert (await deliver(paid_api, *signed(renewed))).status_code == 200
    row = await subscription_of(db, owner)
    assert row.current_period_start == new_start
    assert (row.current_podcast_count, row.current_seconds_used) == (0, 0.0)


async def test_events_for_nobody_are_recorded_and_answered(paid_api: LiveApi, db: Database) -> None:
    body, headers = signed(event("active", None, subscription_id="sub_nobody"))
    response = await deliver(paid_api, body, headers)
    assert response.status_code == 200 and response.json()["data"]["outcome"] == "unmatched"
    payment = signed(
        {
            "type": "payment.succeeded",
            "timestamp": datetime.now(UTC).isoformat(),
            "data": {"payment_id": "pay_1"},
        }
    )
    response = await deliver(paid_api, *payment)
    assert response.status_code == 200 and response.json()["data"]["outcome"] == "ignored"


def test_the_period_roll_over_applies_a_pending_plan() -> None:
    from podnex.quota import _roll_over

    now = datetime.now(UTC)
    row = Subscription(
        plan=Plan.BUSINESS,
        pending_plan=Plan.FREE,
        current_period_start=now - timedelta(days=31),
        current_period_end=now - timedelta(days=1),
        current_podcast_count=3,
        current_seconds_used=10.0,
        current_seconds_reserved=0.0,
    )
    _roll_over(row, now)
    assert (row.plan, row.pending_plan, row.current_podcast_count) == (Plan.FREE, None, 0)
