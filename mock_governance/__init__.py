"""The mock governance server: a real gRPC GovernanceStream on 127.0.0.1 with an
HTTP/JSON control interface. Run it with ``python -m mock_governance``.

Layout: server (start/stop, TLS), servicer (gRPC glue), state (shared state),
sessions (open streams and their queues), record and stats (what nodes sent,
what was answered), handlers (how each payload is answered), federation (the
test keys and the federation the mock signs with), multisig (its script and
address), signer (real signatures for SignatureRequests), updates (signed
FederationUpdates), holds (answers kept back), auth (bearer token checks),
flags and behaviour (misbehaviours), control, routes, federation_routes and
bodies (the HTTP control interface). Importing this package does not import
grpc; only servicer and server do.
"""
