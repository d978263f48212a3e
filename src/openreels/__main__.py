import sys

from openreels.cli import main

sys.exit(main())
