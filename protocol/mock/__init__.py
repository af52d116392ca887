"""The mock governance server: a real gRPC GovernanceStream on 127.0.0.1 with an
HTTP/JSON control interface. Run it with ``python -m protocol.mock_governance``.

Layout: server (start/stop, TLS), servicer (gRPC glue), state (shared state),
sessions (open streams and their queues), record and stats (what nodes sent,
what was answered), handlers (how each payload is answered), federation (the
test federation's keys and signatures), auth (bearer token checks), flags and
behaviour (misbehaviours), control and routes (the HTTP control interface).
Importing this package does not import grpc; only servicer and server do.
"""
