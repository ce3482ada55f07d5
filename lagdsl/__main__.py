"""``python -m lagdsl``: the same command line as the ``lagdsl`` script."""
from .cli import main

raise SystemExit(main())
