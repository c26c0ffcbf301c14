"""``python -m arspec.cli``: the same as ``spec-check``."""

import sys

from arspec.cli.main import main

sys.exit(main())
