"""`python -m pixxel_mock.server` is `pixxel-mock`."""

import sys

from pixxel_mock.server.cli import main

sys.exit(main())
