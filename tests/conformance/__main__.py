"""``python -m tests.conformance``: run the Autobahn suite standalone (see ``--help``)."""

import sys

from ._runner import main

sys.exit(main())
