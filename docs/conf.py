"""Sphinx configuration: the API and reference pages are generated from the code at every build."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))

from generate import write_api_pages, write_generated_pages  # noqa: E402

project = "arspec"
author = "arspec developers"
copyright = "2026, arspec developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode",
              "sphinx.ext.graphviz"]
graphviz_output_format = "svg"
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
nitpicky = False
exclude_patterns = ["_build", "generated"]
html_theme = "alabaster"
suppress_warnings = ["ref.python"]

write_api_pages(ROOT, DOCS / "api")
write_generated_pages(ROOT, DOCS / "generated")


def _quote_alias_lines(app, what, name, obj, options, lines):  # type: ignore[no-untyped-def]
    """Render autodoc's ``alias of ...`` text literally (regex patterns are not RST)."""
    for i, line in enumerate(lines):
        if line.startswith("alias of ") and "``" not in line:
            lines[i] = "alias of ``" + line[len("alias of "):].replace("`", "") + "``"


def _skip_annotated_aliases(app, what, name, obj, skip, options):  # type: ignore[no-untyped-def]
    """Skip ``Annotated[...]`` type aliases: autodoc renders their regex metadata as RST."""
    import typing

    if typing.get_origin(obj) is typing.Annotated:
        return True
    return None


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("autodoc-process-docstring", _quote_alias_lines)
    app.connect("autodoc-skip-member", _skip_annotated_aliases)
