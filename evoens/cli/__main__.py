"""``python -m evoens.cli``: the ``evoens`` command."""

import sys

from . import main

sys.exit(main())
