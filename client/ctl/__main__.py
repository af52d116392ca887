import sys

from client.ctl.main import main

sys.exit(main())
