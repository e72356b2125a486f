"""`python -m mock_server` is `pixxel-mock`."""

import sys

from .cli import main

sys.exit(main())
