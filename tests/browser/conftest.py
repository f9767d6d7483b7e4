"""A real headless browser for the page's tests: Playwright for Python driving Debian's
chromium (`/usr/bin/chromium`, or `PODNEX_CHROMIUM`). `playwright install` is never used.

Every test here is skipped, with the reason, when chromium or the `browser` extra
(`pip install -e '.[browser]'`) is missing; `.ci/run` installs both, so CI runs them.
Screenshots go to `var/test-artifacts/` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("PODNEX_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
]
"""As the machine's notes say: without the background-networking flags chromium keeps
trying Google's hosts, which a closed network refuses."""

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""
"""Added before any page script runs: records every Content-Security-Policy violation."""


def _why_no_browser() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "browser tests need Playwright: pip install -e '.[browser]'"
    if not Path(CHROMIUM).exists():
        return (
            f"browser tests need chromium at {CHROMIUM} "
            "(apt-get install -y chromium; .ci/run installs it)"
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _why_no_browser()
    if reason is None:
        return
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


@dataclass
class Tab:
    """A page at 360 px wide, with what its console said."""

    page: Any
    console: list[str] = field(default_factory=list)

    async def csp_violations(self) -> list[str]:
        found: list[str] = await self.page.evaluate("window.__cspViolations || []")
        return found + [line for line in self.console if "Content Security Policy" in line]

    async def assert_no_csp_violations(self) -> None:
        assert await self.csp_violations() == []

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def axe_violations(self) -> list[dict[str, Any]]:
        """axe-core's violations of WCAG 2 A and AA rules and best practices. The script is
        evaluated through the DevTools protocol, which the page's CSP does not govern."""
        await self.page.evaluate(AXE_JS.read_text())
        violations: list[dict[str, Any]] = await self.page.evaluate(
            """async () => (await axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]},
                resultTypes: ["violations"],
            })).violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ")),
            }))"""
        )
        return violations


@pytest.fixture
async def tab(browser: Any) -> AsyncIterator[Tab]:
    context = await browser.new_context(viewport={"width": 360, "height": 800})
    await context.add_init_script(CSP_WATCH)
    page = await context.new_page()
    page.set_default_timeout(30_000)
    opened = Tab(page)
    page.on("console", lambda message: opened.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: opened.console.append(f"pageerror: {error}"))
    try:
        yield opened
    finally:
        await context.close()
