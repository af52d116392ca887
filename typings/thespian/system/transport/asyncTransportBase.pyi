# How many transmits a Thespian transport lets queue before it blocks the sender
# (bench/ceiling_actors.py varies it).

MAX_PENDING_TRANSMITS: int
