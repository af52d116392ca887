"""What every process of the node needs, whatever its job: logging, metrics, process
facts and titles, the run directory, and keeping Thespian on one address.

This layer imports nothing from ``actors`` or ``supervision``."""
