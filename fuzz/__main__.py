"""``python -m fuzz``: the seeded fuzz driver (fuzz/run.py)."""

import sys

from fuzz.run import main

sys.exit(main())
