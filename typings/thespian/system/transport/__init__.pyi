# Thespian's transports; the node reaches only into IPBase and asyncTransportBase.
