"""Screenshots of three tutorial outputs as the docs site renders them, and checks they are whole.

The closing note of issue 19 shows the filter table (notebook 5), a findings table (notebook 8)
and a timeline (notebook 3) as a reader sees them on the site. This script builds the site as it
is published (``mkdocs build`` with the notebooks executed), opens each page in Debian's
Chromium (headless, through Playwright, offline) at a laptop's 1280 x 900, scrolls to the cell
output and screenshots that element into ``docs/screenshots/NAME.png``. Before each shot it
checks that the output is whole: no value cut with "…", nothing wider than its box (no
horizontal scrolling) and nothing past the window's right edge; a failed check exits non-zero::

    python docs/screenshots/make.py                  # build the site, then every shot
    python docs/screenshots/make.py --site /tmp/site # a site already built

>>> SHOTS["filter_table"].page
'notebooks/05_flags_and_filters'
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CHROMIUM = "/usr/bin/chromium"
#: a typical laptop window, in CSS pixels.
WIDTH, HEIGHT = 1280, 900
#: overflow and position, measured in the page: what "whole" means for one element.
MEASURE = """(element) => {
  const boxes = [element, ...element.querySelectorAll('*')];
  const wider = boxes.filter((b) => b.scrollWidth > b.clientWidth + 1 &&
                                    getComputedStyle(b).overflowX !== 'visible');
  return {text: element.innerText, right: element.getBoundingClientRect().right,
          overflowing: wider.map((b) => b.tagName + '.' + b.className).slice(0, 5)};
}"""


@dataclass(frozen=True)
class Shot:
    """One screenshot: the site page and the cell output to crop to."""

    page: str
    #: CSS selector of the element inside the output (the first match is shot).
    inside: str
    #: text the element must contain (picks the right output, proves it rendered).
    text: str


SHOTS: dict[str, Shot] = {
    "filter_table": Shot("notebooks/05_flags_and_filters", "table", "Wireshark display filter"),
    "findings_table": Shot("notebooks/08_troubleshooting", ".hskit-findings", "no_answer at"),
    # the TIME_WAIT section's figure: fin_4way.pcap, server port 8003
    "timeline": Shot("notebooks/03_closing", ".plotly-graph-div", "10.77.0.2:8003"),
}


def build_site(out: Path) -> None:
    """``mkdocs build --strict`` with the notebooks executed, as the published site."""
    env = {**os.environ, "HSKIT_DOCS_EXECUTE": "true", "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        check=True,
        timeout=1200,
    )


def shoot(site: Path, names: list[str], out: Path = HERE) -> list[str]:
    """Screenshot ``names`` from the built ``site`` into ``out``; returns the problems found
    (empty: every output whole)."""
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        for name in names:
            shot = SHOTS[name]
            page.goto((site / shot.page / "index.html").as_uri())
            output = page.locator(".jp-OutputArea-output", has_text=shot.text).filter(
                has=page.locator(shot.inside)
            )
            element = output.first
            element.scroll_into_view_if_needed()
            if shot.inside == ".plotly-graph-div":
                element.locator(".main-svg").first.wait_for()
            seen = element.evaluate(MEASURE)
            if "…" in seen["text"]:
                problems.append(f"{name}: a value is cut with '…'")
            if seen["overflowing"]:
                problems.append(f"{name}: wider than its box: {seen['overflowing']}")
            if seen["right"] > WIDTH:
                problems.append(f"{name}: ends at x={seen['right']:.0f}, past {WIDTH} px")
            target = out / f"{name}.png"
            element.screenshot(path=str(target))
            print(f"{target}: {target.stat().st_size} bytes")
        browser.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: build (or reuse) the site, take the shots, report what is not whole."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(SHOTS), help="shots (default: all)")
    parser.add_argument("--site", type=Path, help="a built site (default: build one)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in SHOTS]
    if unknown:
        parser.error(f"unknown shot(s) {unknown}; known: {', '.join(SHOTS)}")
    if args.site is not None:
        problems = shoot(args.site, args.names)
    else:
        with tempfile.TemporaryDirectory(prefix="hskit-site-") as tmp:
            build_site(Path(tmp))
            problems = shoot(Path(tmp), args.names)
    for problem in problems:
        print("NOT WHOLE:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
