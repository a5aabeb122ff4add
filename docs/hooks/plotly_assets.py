"""mkdocs hook: render the notebooks' plotly figures offline, with plotly.js stored once.

The notebooks are executed at build time by kernels that inherit this process's
environment. plotly's default renderer there emits only its JSON mimetype, which a static
page cannot show; the ``notebook`` renderer emits HTML with plotly.js (4.8 MB) inlined
once per notebook. After each page is rendered, that inline copy is replaced by a
``<script src>`` to one copy of the same file in ``assets/javascripts/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mkdocs.utils import get_relative_url

os.environ.setdefault("PLOTLY_RENDERER", "notebook")

ASSET = "assets/javascripts/plotly.min.js"


def _plotlyjs() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def on_post_page(output: str, page, config) -> str:
    inline = "<script>" + _plotlyjs() + "</script>"
    if inline not in output:
        return output
    src = get_relative_url(ASSET, page.url or ".")
    return output.replace(inline, f'<script src="{src}"></script>')


def on_post_build(config) -> None:
    import plotly

    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    target = Path(config["site_dir"]) / ASSET
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
