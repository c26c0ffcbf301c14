"""``python -m arspec.cli.schemas DOCS``: write the schemas and their list into DOCS/schemas."""

from __future__ import annotations

import sys
from pathlib import Path

from arspec.cli.schemas import write_docs

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m arspec.cli.schemas DOCS_FOLDER", file=sys.stderr)
        sys.exit(2)
    for path in write_docs(Path(sys.argv[1])):
        print(path)
