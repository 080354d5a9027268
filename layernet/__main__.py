"""``python -m layernet``: the same as the ``layernet`` command."""

import sys

from .cli import main

sys.exit(main())
