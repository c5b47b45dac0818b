"""`python -m infra.demo`: the scripted demo (see infra/demo/__init__.py)."""

import sys

from infra.demo import main

sys.exit(main())
