"""The one Jinja2 policy for HTML pages: the console's and the weekly report's alike."""

from __future__ import annotations

import jinja2


def templates(package: str) -> jinja2.Environment:
    """Templates from ``package``'s ``templates`` folder; every value escaped unless marked
    safe in Python, and an undefined name an error rather than an empty string."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
