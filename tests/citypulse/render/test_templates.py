"""The pages' one Jinja2 policy: values escaped, an undefined name an error, and the
templates found in the package named."""

from __future__ import annotations

import jinja2
import pytest

from citypulse.render import templates


def test_values_are_escaped_and_an_undefined_name_is_an_error() -> None:
    page = templates("console").from_string("<p>{{ x }}</p>")
    assert page.render(x="<b>&") == "<p>&lt;b&gt;&amp;</p>"
    with pytest.raises(jinja2.UndefinedError):
        page.render()


def test_templates_come_from_the_named_package() -> None:
    assert "weekly_body.html" in templates("appeals.analysis").list_templates()
