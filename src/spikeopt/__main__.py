"""``python -m spikeopt``: the same command as the ``spikeopt`` script (for environments without it on PATH)."""

import sys

from spikeopt.cli import main

sys.exit(main())
