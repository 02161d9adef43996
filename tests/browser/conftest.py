"""Real headless Chromium (Debian's `chromium`, driven by Playwright) against `sada run`.

The stack runs with the demo history, once for the module; each test opens its own browser
context signed in through the `/login` cookie with a token for the role it plays. Screenshots
go to test-artifacts/ and are checked not to be blank.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from services import auth
from tests.auth_helpers import stack_token, token
from tests.e2e.conftest import Stack, start_stack, stop_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("sada-web"), demo=True)
    try:
        wait_until_settled(s)
        yield s
    finally:
        stop_stack(s)


def wait_until_settled(s: Stack, timeout: float = 60.0) -> None:
    """Until routing has decided the demo history and the projector has shown all of it: the
    log's end stands still and the read models have reached it."""
    headers = stack_token(s.data_dir, "headquarters")
    deadline, last, steady = time.monotonic() + timeout, None, 0
    while time.monotonic() < deadline:
        body = requests.get(s.url("reporting", "/status"), headers=headers, timeout=10).json()
        end = body.get("end_offsets")
        steady = steady + 1 if end == last and body.get("total_lag") == 0 else 0
        if steady >= 4:
            return
        last = end
        time.sleep(0.25)
    raise AssertionError(f"the demo history did not settle in {timeout:g} s: {body}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run tests/ensure_packages.sh as root "
                    "(`make test` does), which installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def signed_in(browser: Browser, stack: Stack, role: str, district: int | None = None,
              department: str | None = None, **kwargs) -> BrowserContext:
    """A browser context carrying the `/login` cookie of a token for this role."""
    secret = (stack.data_dir / "auth-secret").read_text().strip()
    options = {"viewport": {"width": 1280, "height": 900}, "locale": "fa-IR",
               "timezone_id": "Asia/Tehran", **kwargs}
    context = browser.new_context(**options)
    context.add_cookies([{"name": auth.COOKIE, "url": stack.urls["reporting"],
                          "value": token(role, district, department, secret=secret),
                          "httpOnly": True, "sameSite": "Strict"}])
    return context


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot to test-artifacts/ and check that it shows something."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    png = page.screenshot(path=str(path), full_page=full_page)
    assert_not_blank(png, name)
    return path


def assert_not_blank(png: bytes, name: str) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.resize((image.width // 4, image.height // 4))
    colours = small.getcolors(maxcolors=1 << 20) or []
    background = max(colours)[1] if colours else None
    other = sum(n for n, c in colours if c != background)
    share = other / (small.width * small.height)
    assert len(colours) >= 64, f"{name}: only {len(colours)} colours: a blank page?"
    assert share >= 0.05, f"{name}: {share:.1%} of pixels differ from the background"


DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DOC_SCREENSHOT_MAX_BYTES = 200_000


def doc_screenshot(page, name: str) -> Path:
    """Save the visible part of a page to docs/screenshots/<name>.png, as docs/pages.md shows
    it: a palette PNG, checked not blank and under DOC_SCREENSHOT_MAX_BYTES."""
    png = page.screenshot(full_page=False)
    assert_not_blank(png, name)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.LANCZOS)
    out = io.BytesIO()
    small.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    assert len(out.getvalue()) < DOC_SCREENSHOT_MAX_BYTES, (name, len(out.getvalue()))
    DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = DOC_SCREENSHOTS / f"{name}.png"
    path.write_bytes(out.getvalue())
    return path
