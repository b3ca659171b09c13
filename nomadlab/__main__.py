"""``python -m nomadlab`` is the ``nomadlab`` command."""

import sys

from .cli import main

sys.exit(main())
