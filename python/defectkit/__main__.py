import sys

from defectkit.cli import main

sys.exit(main())
