"""``python -m aereport``: the ``aereport`` command."""
import sys

from .cli import main

sys.exit(main())
