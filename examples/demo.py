"""Run the govml demo (``make demo``)."""

import sys

from govml.demo.run import main

sys.exit(main())
