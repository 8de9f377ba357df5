"""``python -m fuzz``: see fuzz/cli.py."""

import sys

from fuzz.cli import main

sys.exit(main())
