"""``python -m myapp.db``: the command line (see `myapp.db.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
