"""The page at `/` and the API reference at `/schema/scalar` in a real headless chromium,
against the real stack (Postgres, Temporal, a worker, uvicorn), at 360 px wide.

Needs chromium and the `browser` extra: skipped with the reason otherwise (conftest).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import update
from temporalio.client import Client

from api.app import create_app
from podnex.db import Database
from podnex.models import Subscription
from podnex.plans import Plan
from podnex.settings import Settings
from tests.browser.conftest import Tab
from tests.conftest import ApiUser, LiveApi, make_user, serve
from tests.integration.notes import NOTES
from tests.integration.workers import ScriptedEngine, worker_with

pytestmark = pytest.mark.timeout(180)

WAIT_MS = 90_000


async def enter_key(tab: Tab, base_url: str, user: ApiUser) -> None:
    page = tab.page
    await page.goto(f"{base_url}/")
    await page.get_by_role("textbox", name="API key").fill(user.key)
    await page.get_by_role("button", name="Use key").click()
    await page.wait_for_function(
        "() => document.getElementById('key-status').textContent === 'Key accepted.'"
    )


async def create_from_page(tab: Tab, title: str) -> None:
    page = tab.page
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Notes (Markdown").fill(NOTES)
    await page.get_by_role("button", name="Create podcast").click()


async def status_is(tab: Tab, status: str) -> None:
    await tab.page.wait_for_function(
        f"() => document.getElementById('current-status').textContent === '{status}'",
        timeout=WAIT_MS,
    )


def api_calls(tab: Tab) -> list[Any]:
    """The page's requests to the API from now on, in order (Playwright `Request`s)."""
    calls: list[Any] = []
    tab.page.on("request", lambda r: calls.append(r) if "/api/v1/" in r.url else None)
    return calls


def ending(calls: list[Any], suffix: str) -> list[Any]:
    return [r for r in calls if r.url.split("?")[0].endswith(suffix)]


async def test_notes_to_a_played_episode_with_its_transcript(
    tab: Tab, api: LiveApi, worker: object, user: ApiUser
) -> None:
    page = tab.page
    calls = api_calls(tab)
    await enter_key(tab, api.base_url, user)
    # voices come from the catalogue, host and guest different by default
    host = await page.get_by_label("Host voice").input_value()
    guest = await page.get_by_label("Guest voice").input_value()
    assert host and guest and host != guest
    await page.get_by_label("Guest voice").select_option(host)
    await page.get_by_role("button", name="Create podcast").click()
    assert "different voices" in await page.locator("#voice-error").inner_text()
    await page.get_by_label("Guest voice").select_option(guest)

    await create_from_page(tab, "Octopus notes")
    await page.wait_for_function(
        "() => !document.getElementById('current').hidden"
        " && document.getElementById('current-status').textContent !== '\\u2013'"
    )
    await status_is(tab, "COMPLETED")
    assert await page.locator("#current-progress").evaluate("p => p.value") == 100
    assert "COMPLETED: 100%" in await page.locator("#progress-text").inner_text()

    # progress came from the event stream, read with fetch and the key; /status never polled
    streams = ending(calls, "/events")
    assert streams, [r.url for r in calls]
    headers = await streams[0].all_headers()
    assert headers["accept"] == "text/event-stream"
    assert headers["authorization"] == f"Bearer {user.key}"
    opened = await streams[0].response()
    assert opened.status == 200
    assert opened.headers["content-type"].startswith("text/event-stream")
    assert ending(calls, "/status") == []

    listed = (await api.client.get("/api/v1/podcasts", headers=user.headers)).json()["data"]
    podcast = next(p for p in listed if p["title"] == "Octopus notes")
    expected = podcast["audioDuration"]
    assert expected > 10

    duration = await page.wait_for_function(
        "() => { const a = document.getElementById('audio');"
        " return a.readyState >= 1 && isFinite(a.duration) && a.duration > 0 && a.duration; }",
        timeout=WAIT_MS,
    )
    assert abs(await duration.json_value() - expected) <= 1.0
    href = await page.locator("#download").get_attribute("href")
    assert href and "/api/v1/files/" in href and "signature=" in href

    # the transcript is listed from the WebVTT track, and a cue is shown while playing
    await page.wait_for_function("() => document.querySelectorAll('#transcript li').length > 3")
    first_line = await page.locator("#transcript li").first.inner_text()
    assert first_line.startswith(("Host: ", "Guest: "))
    await page.evaluate("document.getElementById('audio').play()")
    await page.wait_for_selector("#transcript li.current[aria-current='true']", timeout=WAIT_MS)
    assert (await page.locator("#caption").inner_text()).strip()
    await page.evaluate("document.getElementById('audio').pause()")

    # the history lists it with its status, length and date
    item = page.locator(f"#history li[data-id='{podcast['id']}']")
    await item.wait_for()
    text = await item.inner_text()
    assert "COMPLETED" in text and "created" in text
    assert await item.get_by_role("button", name="Retry Octopus notes").count() == 0

    shot = await tab.screenshot("page-completed.png")
    assert shot.stat().st_size > 10_000
    # nothing wider than the 360 px window
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await tab.assert_no_csp_violations()


async def test_a_dropped_stream_resumes_with_last_event_id(
    tab: Tab, api: LiveApi, worker: object, user: ApiUser
) -> None:
    """The first connection to /events gets the server's first event only, then closes (as a
    dropped connection would): the page reconnects with that event's id and finishes."""
    page = tab.page
    calls = api_calls(tab)
    first_id: list[str] = []

    async def drop_after_first_event(route: Any) -> None:
        if first_id:
            await route.continue_()
            return
        answer = await route.fetch()  # the whole stream: the run's events, then `final`
        text = (await answer.body()).decode()
        event = next(block for block in re.split(r"\r?\n\r?\n", text) if "data:" in block)
        first_id.append(re.search(r"^id: ?(\d+)", event, re.M).group(1))  # type: ignore[union-attr]
        await route.fulfill(
            status=200, headers=dict(answer.headers), body=f"{event}\r\n\r\n".encode()
        )

    await page.route("**/api/v1/podcasts/*/events", drop_after_first_event)
    await enter_key(tab, api.base_url, user)
    await create_from_page(tab, "Dropped")
    await status_is(tab, "COMPLETED")
    await page.locator("#audio[src]").wait_for(state="attached")

    streams = ending(calls, "/events")
    assert len(streams) == 2, [r.url for r in calls]
    assert "last-event-id" not in await streams[0].all_headers()
    assert (await streams[1].all_headers())["last-event-id"] == first_id[0]
    assert ending(calls, "/status") == []
    await tab.assert_no_csp_violations()


@pytest.mark.parametrize("without", ["a 200 answer", "response body streams"])
async def test_without_the_stream_the_page_polls_status(
    tab: Tab, api: LiveApi, worker: object, user: ApiUser, without: str
) -> None:
    page = tab.page
    if without == "a 200 answer":
        await page.route(
            "**/api/v1/podcasts/*/events",
            lambda route: route.fulfill(
                status=503, content_type="application/json", body='{"error": "no streams"}'
            ),
        )
    else:
        await page.add_init_script(
            'Object.defineProperty(Response.prototype, "body", { get() { return null; } });'
        )
    calls = api_calls(tab)
    await enter_key(tab, api.base_url, user)
    await create_from_page(tab, "Polled")
    await status_is(tab, "COMPLETED")
    await page.locator("#audio[src]").wait_for(state="attached")
    assert len(ending(calls, "/events")) == 1
    assert ending(calls, "/status")
    assert await page.locator("#message.error").count() == 0
    await tab.assert_no_csp_violations()


async def test_limit_reached_shows_the_plans_numbers(
    tab: Tab, api: LiveApi, worker: object, db: Database
) -> None:
    owner = await make_user(db, Plan.FREE)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_podcast_count=5)
        )
    await enter_key(tab, api.base_url, owner)
    await create_from_page(tab, "One too many")
    message = tab.page.locator("#message.error")
    await message.wait_for(timeout=WAIT_MS)
    text = await message.inner_text()
    assert "limit is reached (403)" in text
    assert "Monthly podcast limit reached (5)" in text
    assert "Podcasts this month: 5 of 5" in text
    assert "of 25" in text  # FREE: 25 minutes a month
    await tab.screenshot("page-limit-reached.png")
    await tab.assert_no_csp_violations()


async def test_bad_notes_and_a_bad_key_are_explained(tab: Tab, api: LiveApi, user: ApiUser) -> None:
    page = tab.page
    await enter_key(tab, api.base_url, user)
    await page.get_by_label("Notes (Markdown").fill("too short")
    await page.get_by_role("button", name="Create podcast").click()
    message = page.locator("#message.error")
    await message.wait_for()
    text = await message.inner_text()
    assert "refused (400)" in text and "noteContent" in text

    await page.get_by_role("textbox", name="API key").fill("pnx_not-a-key")
    await page.get_by_role("button", name="Use key").click()
    await page.wait_for_function(
        "() => document.getElementById('message').textContent.includes('401')"
    )
    await tab.assert_no_csp_violations()


async def test_cancel_then_delete_from_the_page(
    tab: Tab, settings: Settings, temporal_client: Client, db: Database
) -> None:
    owner = await make_user(db)
    slow = ScriptedEngine(delay=1.0)  # a second a line: the run is still going when cancelled
    async with worker_with(settings, temporal_client, slow) as queue:
        app = create_app(settings.model_copy(update={"temporal_task_queue": queue}))
        async with serve(app) as live:
            page = tab.page
            await enter_key(tab, live.base_url, owner)
            await create_from_page(tab, "Cancel me")
            await status_is(tab, "PROCESSING")
            cancel = page.locator("#current-cancel")
            await cancel.wait_for(state="visible")
            await cancel.click()
            await status_is(tab, "CANCELLED")
            assert await page.locator("#current-retry").is_visible()
            assert not await cancel.is_visible()

            item = page.locator("#history li[data-status='CANCELLED']")
            await item.wait_for()
            assert await item.get_by_role("button", name="Retry Cancel me").count() == 1
            assert await item.get_by_role("button", name="Cancel Cancel me").count() == 0

            page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await item.get_by_role("button", name="Delete Cancel me").click()
            await page.wait_for_function(
                "() => document.getElementById('message').textContent.includes('Deleted Cancel me')"
            )
            await page.wait_for_function(
                "() => document.querySelectorAll('#history li').length === 0"
            )
            listed = await live.client.get("/api/v1/podcasts", headers=owner.headers)
            assert listed.json()["data"] == []
            await tab.assert_no_csp_violations()


async def test_page_has_no_serious_accessibility_violations(
    tab: Tab, api: LiveApi, worker: object, user: ApiUser
) -> None:
    created = await api.client.post(
        "/api/v1/podcasts", headers=user.headers, json={"noteContent": NOTES, "title": "Axe"}
    )
    assert created.status_code == 201, created.text
    podcast_id = created.json()["data"]["id"]
    for _ in range(300):
        status = await api.client.get(f"/api/v1/podcasts/{podcast_id}/status", headers=user.headers)
        if status.json()["data"]["status"] == "COMPLETED":
            break
        await asyncio.sleep(0.2)
    page = tab.page
    await enter_key(tab, api.base_url, user)
    await page.get_by_role("button", name="Open Axe").click()
    await page.wait_for_function("() => document.querySelectorAll('#transcript li').length > 0")
    # keyboard: the key field, its buttons and the form are reachable with Tab
    await page.locator("#api-key").focus()
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Use key"

    violations = await tab.axe_violations()
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    await tab.assert_no_csp_violations()


async def test_api_reference_renders_offline(tab: Tab, api: LiveApi) -> None:
    """Every request of /schema/scalar goes to this server; anything else is refused, as it
    would be without internet."""
    page = tab.page
    elsewhere: list[str] = []

    async def only_here(route: Any) -> None:
        if route.request.url.startswith(api.base_url):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_here)
    scripts: list[str] = []
    page.on(
        "request",
        lambda request: scripts.append(request.url) if request.resource_type == "script" else None,
    )
    await page.goto(f"{api.base_url}/schema/scalar")
    try:
        await page.get_by_text("Turn notes into a two-voice podcast.").first.wait_for(
            timeout=30_000
        )
        await page.get_by_text("/api/health").first.wait_for()
    except Exception as exc:
        await tab.screenshot("schema-debug.png")
        body = await page.evaluate("() => document.body.innerText.slice(0, 1500)")
        raise AssertionError(f"not rendered; console: {tab.console}; {body}") from exc
    assert scripts and all(url.startswith(f"{api.base_url}/static/vendor/") for url in scripts)
    assert elsewhere == []
    await tab.screenshot("schema-scalar.png")
    await tab.assert_no_csp_violations()
