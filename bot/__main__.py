"""`python -m bot`: the same as the `collateral-bot` command."""

import sys

from .cli import main

sys.exit(main())
