"""The client library: drive a running alys node through the Thespian ActorSystem API.

    from client import connect
    from nodeconfig import load_config

    node = connect(load_config("configs/local.yaml"))   # joins the node's admin port
    reply = node.submit_pegout(InitiatePegout("po-1", tx_hex, (0, 1), (50_000, 50_000)))
    status = node.pegout_status("po-1")

Tools, tests, benchmarks and the chaos run all drive a node this way, and
`scripts/status` is built on it. The parts:

- `client.connection`: `connect(config)` / `connect_to(host, port, secret_file=)`,
  and `prepare_process(host, secret_file=)`, what a process must set before it
  opens an ActorSystem handle on the node (loopback, the transport secret);
- `client.session`: `Session`, names to addresses through the root
  (`Lookup`), and the one rule for sending (`ask` or `tell`; see there);
- `client.contract`: `NodeClient`, one typed call per request of the client
  contract in `actors/messages.py`;
- `client.errors`: `ClientError` and its cases.

It never imports `supervision`: a client needs the message catalogue and the
front desk (`actors/front_desk.py`), not the code that runs the node.
"""

from client.connection import SYSTEM_BASE, connect, connect_to, prepare_process
from client.contract import NodeClient, PeginReply, PegoutReply
from client.errors import (
    ClientError,
    NodeUnreachable,
    NoNode,
    NoReply,
    NoSecret,
    UnknownActor,
)
from client.session import ASK_TIMEOUT_S, BATCH_SIZE, Session, Target

__all__ = [
    "ASK_TIMEOUT_S",
    "BATCH_SIZE",
    "SYSTEM_BASE",
    "ClientError",
    "NoNode",
    "NoReply",
    "NoSecret",
    "NodeClient",
    "NodeUnreachable",
    "PeginReply",
    "PegoutReply",
    "Session",
    "Target",
    "UnknownActor",
    "connect",
    "connect_to",
    "prepare_process",
]
