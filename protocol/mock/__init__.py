"""The mock governance server: a real gRPC GovernanceStream on 127.0.0.1 with an
HTTP/JSON control interface. Run it with ``python -m protocol.mock_governance``.

Layout: server (start/stop), servicer (gRPC glue), state (shared state),
sessions (open streams and their queues), record (what nodes sent),
handlers (how each payload is answered), flags and behaviour (misbehaviours),
control and routes (the HTTP control interface), parent (exit with parent).
Importing this package does not import grpc; only servicer and server do.
"""
