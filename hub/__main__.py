"""``python -m hub``: the ``junban`` command (``python -m hub serve --demo``)."""

import sys

from hub.cli import main

sys.exit(main())
