"""Running nodes on this machine for tests, benchmarks and chaos runs (not installed).

What `tests/`, `bench/` and `chaos/` share to set a node up, which is not
about driving it (that is the client library, `client/`):

- `waiting`: `wait_until`, the one way to wait on a condition;
- `ports`: free loopback ports;
- `mock`: the mock governance server in a subprocess;
- `launcher`: `scripts/start` and `scripts/status` run as an operator runs them;
- `nodes`: configs on free ports, a node started in this process with a
  client connected to it (`LocalNode`), proof that nothing was left behind;
- `stream`: a node wired to a given governance server, with short intervals;
- `pegouts`: a federation shared by the mock and the node, unsigned peg-outs
  it can sign, and the mock with a node wired to it.

A tools-level package: it may use `client`, `supervision` and everything
below, and never `tests`.
"""
