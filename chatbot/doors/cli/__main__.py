"""`python -m chatbot.doors.cli`: the same as the `tastebud` command."""

import sys

from chatbot.doors.cli import main

sys.exit(main())
