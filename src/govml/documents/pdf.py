"""PDF from a document's HTML page, printed by a headless Chromium through Playwright.

Nothing is downloaded: Playwright drives the Chromium the system provides (Debian's
``chromium`` package, or the executable in ``GOVML_CHROMIUM``). The page is self-contained,
so printing needs no network either.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from govml.errors import ConfigurationError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ERR_NO_PLAYWRIGHT = "PDF output needs the playwright package"
HINT_NO_PLAYWRIGHT = "pip install 'govml[pdf]', or write --format html and print it"
ERR_NO_CHROMIUM = "PDF output needs a Chromium executable; none was found"
HINT_NO_CHROMIUM = "install Debian's chromium (apt-get install chromium) or set GOVML_CHROMIUM"


def chromium_path() -> Path | None:
    """Return the Chromium executable to use (``GOVML_CHROMIUM`` first), or None."""
    given = os.environ.get("GOVML_CHROMIUM")
    if given:
        return Path(given) if Path(given).is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def html_to_pdf(html: str) -> bytes:
    """Return the PDF of an HTML page (A4, backgrounds printed).

    Raises
    ------
    ConfigurationError
        When Playwright or a Chromium executable is missing, saying how to install them.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ConfigurationError(ERR_NO_PLAYWRIGHT, hint=HINT_NO_PLAYWRIGHT) from None
    executable = chromium_path()
    if executable is None:
        raise ConfigurationError(ERR_NO_CHROMIUM, hint=HINT_NO_CHROMIUM)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load")
            data: bytes = page.pdf(format="A4", print_background=True)
        finally:
            browser.close()
    return data
