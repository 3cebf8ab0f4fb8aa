"""``python -m pydarknet.cli``."""

import sys

from .main import main

sys.exit(main())
