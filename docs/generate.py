"""Generate one Sphinx page per arspec module, so the docs grow with the code."""

from __future__ import annotations

from pathlib import Path

PACKAGES = ("spec", "reference", "checker", "model", "proofs")


def _modules(root: Path, folder: str) -> list[str]:
    names = []
    for path in sorted((root / folder).glob("*.py")):
        if path.name == "__init__.py":
            continue
        names.append(f"arspec.{folder}.{path.stem}")
    return names


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_api_pages(root: Path, out: Path) -> None:
    """Write ``api/<package>.rst`` for every package, each listing its modules."""
    out.mkdir(exist_ok=True)
    index = ["API reference", "=============", "", ".. toctree::", "   :maxdepth: 2", ""]
    for folder in PACKAGES:
        index.append(f"   {folder}")
        title = f"arspec.{folder}"
        lines = [title, "=" * len(title), "", f".. automodule:: {title}", ""]
        for module in _modules(root, folder):
            lines += [f".. automodule:: {module}", ""]
        _write_if_changed(out / f"{folder}.rst", "\n".join(lines))
    _write_if_changed(out / "index.rst", "\n".join(index) + "\n")
