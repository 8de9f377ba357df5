"""``python -m batch MODEL SOURCE ...``: see batch.cli."""

from batch.cli import main

raise SystemExit(main())
