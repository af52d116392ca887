# Thespian's system bases; the node reaches only into thespian.system.transport.
