"""Debian's Chromium driven by Playwright, offline, with a fresh profile.

Tests call :func:`require` for each tool they need: on a user's machine a missing tool
skips the test with the install command; in CI (``CI`` set) it fails the test instead.
Playwright's own browser downloads are never used: the browser is ``/usr/bin/chromium``.

>>> with offline_chromium(tmp_path) as (context, blocked):  # doctest: +SKIP
...     context.new_page().goto("file:///tmp/report.html")
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Route

#: Chromium flags for a quiet, offline, headless run as root.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Every URL but the local ones. Only these are routed (and aborted): a routed request
#: waits until Python hands Playwright control, so routing local traffic too would stall
#: the page whenever the test waits on something else.
_NOT_LOCAL = re.compile(r"^(?!(http://127\.0\.0\.1:|file:|data:|blob:|about:))")


def require(available: bool, message: str) -> None:
    """Skip (user machine) or fail (CI) unless ``available``."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail("CI: " + message)
    pytest.skip(message)


def chromium_path() -> str:
    """Debian's Chromium, or skip/fail with the install command."""
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    require(path is not None, "Chromium is not installed (Debian: sudo apt-get install chromium)")
    assert path is not None
    return path


def require_playwright() -> None:
    """The Python ``playwright`` package (its driver only; the browser is Debian's)."""
    require(
        importlib.util.find_spec("playwright") is not None,
        "the playwright package is missing (pip install playwright; no 'playwright install')",
    )


@contextmanager
def offline_chromium(
    profile_dir: Path, width: int = 1400, height: int = 1000
) -> Iterator[tuple[BrowserContext, list[str]]]:
    """A headless Chromium context that may only reach 127.0.0.1 and local files.

    Yields the context and the list of URLs it refused to fetch; closes the browser
    (and so every Chromium process) on exit.
    """
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def refuse(route: Route) -> None:
        blocked.append(route.request.url)
        route.abort()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=chromium_path(),
            args=list(CHROMIUM_ARGS),
            headless=True,
            viewport={"width": width, "height": height},
        )
        try:
            context.route(_NOT_LOCAL, refuse)
            yield context, blocked
        finally:
            context.close()
