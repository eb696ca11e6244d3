"""`python -m paraseek.cli`: the same as the `paraseek` command."""

import sys

from . import main

sys.exit(main())
