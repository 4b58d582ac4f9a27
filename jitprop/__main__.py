import sys
from jitprop.cli import main

sys.exit(main())
