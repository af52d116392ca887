"""The client contract of `actors/messages.py`, one typed call per request.

Each call asks the actor that owns the request and returns its reply typed;
silence raises `NoReply` naming what was expected and what came. Requests
many at a time (`submit_pegouts`) are told in Batches and their replies
collected, as the rule in `client.session` says.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from thespian.actors import ActorAddress

from actors.messages import (
    AdvanceHeight,
    ChainStatus,
    ConfigReloaded,
    ConnectionStatus,
    DrainPegouts,
    DrainState,
    FederationHistory,
    GetChainStatus,
    GetConnectionStatus,
    GetDrainState,
    GetPegoutStatus,
    InitiatePegout,
    ListFederations,
    ListPegouts,
    ListProposals,
    NodeStatus,
    NodeStatusReport,
    NotifyPegin,
    OutflowReset,
    PeginAccepted,
    PeginRejected,
    PegoutAccepted,
    PegoutList,
    PegoutRejected,
    PegoutResolved,
    PegoutStatus,
    Ping,
    Pong,
    Proposal,
    ProposalList,
    ReloadConfig,
    ResetOutflowWindow,
    ResolvePegout,
    RetryPegout,
    UndrainPegouts,
)
from client.errors import NoReply
from client.session import ASK_TIMEOUT_S, BATCH_SIZE, Session, Target

PegoutReply = PegoutAccepted | PegoutRejected
PeginReply = PeginAccepted | PeginRejected
# A commit releases the replies of a whole Batch at once: thousands take a while.
MANY_TIMEOUT_S = 120.0


class NodeClient(Session):
    """A running node, driven through its actors' public messages."""

    # -- the node ---------------------------------------------------------------

    def ping(self, target: Target, timeout_s: float = ASK_TIMEOUT_S) -> Pong | None:
        """The actor's `Pong` (its name and pid), or None if it did not answer in time."""
        return self.try_ask(target, Ping(time.monotonic_ns()), Pong, timeout_s)

    def node_status(self, timeout_s: float = ASK_TIMEOUT_S) -> NodeStatusReport:
        """Every actor (pid, state, restarts) and the stream's connection, from the root."""
        report = self.ask_root(NodeStatus(), NodeStatusReport, timeout_s)
        if report is None:
            raise NoReply("NodeStatus to the root", (NodeStatusReport,), (), timeout_s)
        return report

    def reload_config(self, timeout_s: float = 10.0) -> ConfigReloaded:
        """Have the root re-read the config file and apply it, all or nothing."""
        reply = self.ask_root(ReloadConfig(), ConfigReloaded, timeout_s)
        if reply is None:
            raise NoReply("ReloadConfig to the root", (ConfigReloaded,), (), timeout_s)
        return reply

    def pids(self, timeout_s: float = ASK_TIMEOUT_S) -> dict[str, int | None]:
        """Each actor's pid by name, from `node_status` (None while it is being restarted)."""
        return {actor.name: actor.pid for actor in self.node_status(timeout_s).actors}

    def connection_status(self, timeout_s: float = ASK_TIMEOUT_S) -> ConnectionStatus:
        """The governance stream's connection, from the StreamActor."""
        return self.ask("stream", GetConnectionStatus(), ConnectionStatus, timeout_s)

    # -- peg-outs and peg-ins ---------------------------------------------------

    def submit_pegout(self, request: InitiatePegout,
                      timeout_s: float = ASK_TIMEOUT_S) -> PegoutReply:
        """`PegoutAccepted` once the bridge has stored it, or `PegoutRejected` with the reason."""
        return self.ask("bridge", request, (PegoutAccepted, PegoutRejected), timeout_s)

    def retry_pegout(self, request_id: str, timeout_s: float = ASK_TIMEOUT_S) -> PegoutReply:
        """Start a new attempt series for a failed peg-out that was never signed:
        `PegoutAccepted`, or `PegoutRejected` saying why not."""
        return self.ask("bridge", RetryPegout(request_id), (PegoutAccepted, PegoutRejected),
                        timeout_s)

    def resolve_pegout(self, request_id: str, outcome: str,
                       timeout_s: float = ASK_TIMEOUT_S) -> PegoutResolved | PegoutRejected:
        """An operator's verdict on a `needs_review` peg-out: `paid` or `not_paid`."""
        return self.ask("bridge", ResolvePegout(request_id, outcome),
                        (PegoutResolved, PegoutRejected), timeout_s)

    def reset_outflow_window(self, reason: str = "",
                             timeout_s: float = ASK_TIMEOUT_S) -> OutflowReset:
        """Lift the outflow circuit breaker: what was paid out so far no longer counts."""
        return self.ask("bridge", ResetOutflowWindow(reason), OutflowReset, timeout_s)

    def drain(self, reason: str = "", timeout_s: float = ASK_TIMEOUT_S) -> DrainState:
        """Stop accepting new peg-outs (accepted ones go on); `refused` says if not taken."""
        return self.ask("bridge", DrainPegouts(reason), DrainState, timeout_s)

    def undrain(self, timeout_s: float = ASK_TIMEOUT_S) -> DrainState:
        """Accept new peg-outs again."""
        return self.ask("bridge", UndrainPegouts(), DrainState, timeout_s)

    def drain_state(self, timeout_s: float = ASK_TIMEOUT_S) -> DrainState:
        return self.ask("bridge", GetDrainState(), DrainState, timeout_s)

    def submit_pegouts(self, requests: Sequence[InitiatePegout], *, size: int = BATCH_SIZE,
                       timeout_s: float = MANY_TIMEOUT_S) -> list[PegoutReply]:
        """Many peg-outs in Batches of `size`; one reply each, in the order they came.

        Refusals come at once and acceptances after the commit, so the order
        says nothing; callers that compare sort by `request_id`.
        """
        bridge = self.lookup("bridge")
        self.tell_batches(bridge, requests, size)
        return self.replies(len(requests), (PegoutAccepted, PegoutRejected), timeout_s)

    def pegout_status(self, request_id: str,
                      timeout_s: float = ASK_TIMEOUT_S) -> PegoutStatus:
        """The peg-out's state (`unknown` for an id the bridge never saw), txid, signatures."""
        return self.ask("bridge", GetPegoutStatus(request_id), PegoutStatus, timeout_s)

    def list_pegouts(self, state: str | None = None, *, limit: int = 1000,
                     timeout_s: float = ASK_TIMEOUT_S) -> tuple[PegoutStatus, ...]:
        """The newest `limit` peg-outs, or of those in `state`, oldest first; finished ones
        are read back from storage. `pegout_listing` also says why a listing failed."""
        return self.pegout_listing(state, limit=limit, timeout_s=timeout_s).items

    def pegout_listing(self, state: str | None = None, *, limit: int = 1000,
                       timeout_s: float = ASK_TIMEOUT_S) -> PegoutList:
        return self.ask("bridge", ListPegouts(state, limit), PegoutList, timeout_s)

    def notify_pegin(self, notice: NotifyPegin,
                     timeout_s: float = ASK_TIMEOUT_S) -> PeginReply:
        """`PeginAccepted` once stored (and sent on to governance), or `PeginRejected`."""
        return self.ask("bridge", notice, (PeginAccepted, PeginRejected), timeout_s)

    # -- the chain --------------------------------------------------------------

    def chain_status(self, timeout_s: float = ASK_TIMEOUT_S) -> ChainStatus:
        """The height, the federation in force and the updates scheduled."""
        return self.ask("chain", GetChainStatus(), ChainStatus, timeout_s)

    def advance_height(self, height: int, timeout_s: float = ASK_TIMEOUT_S) -> ChainStatus:
        """Set the block height (it never goes down); the chain's status after it."""
        return self.ask("chain", AdvanceHeight(height), ChainStatus, timeout_s)

    def federation_history(self, limit: int = 100,
                           timeout_s: float = ASK_TIMEOUT_S) -> FederationHistory:
        """The newest `limit` federation versions recorded, oldest first."""
        return self.ask("chain", ListFederations(limit), FederationHistory, timeout_s)

    def proposals(self, timeout_s: float = ASK_TIMEOUT_S) -> tuple[Proposal, ...]:
        """The governance proposals the chain has received."""
        return self.ask("chain", ListProposals(), ProposalList, timeout_s).items

    # -- waiting ----------------------------------------------------------------

    def wait_replaced(self, name: str, old_pid: int, *, timeout_s: float,
                      old_address: ActorAddress | None = None, lookup_s: float = 1.0,
                      ping_s: float = 1.0,
                      between: Callable[[], None] | None = None) -> Pong | None:
        """Poll until the actor `name` answers a `Ping` from a pid other than `old_pid`.

        Returns its `Pong`, or None after `timeout_s`. Each poll is a lookup and
        a ping, back to back, so the time this takes is the restart's, not a
        sleep's. The root keeps handing out `old_address` until it hears of
        the restart; it is not pinged (a dead or hung target costs the ping's
        timeout). `between` runs after each poll that failed (a load to keep going).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            address = self.find(name, timeout_s=lookup_s)
            pong = None
            if address is not None and (old_address is None or address != old_address):
                pong = self.ping(address, timeout_s=ping_s)
            if pong is not None and pong.pid != old_pid:
                return pong
            if between is not None:
                between()
        return None
