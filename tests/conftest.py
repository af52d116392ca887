"""Test-wide setup that must happen before any project module is imported.

prometheus-client picks its multiprocess value class at import, from
`PROMETHEUS_MULTIPROC_DIR`: point it at a session directory now; each node a
test starts then moves its actors to a fresh directory of their own.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="alys-test-metrics-"))
