"""`python -m controlplane.cli ...`: the `dcloud` command without its console script."""

import sys

from controlplane.cli import main

sys.exit(main())
