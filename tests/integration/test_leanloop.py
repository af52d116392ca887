"""The cheaper loop (runtime/leanloop.py) reaches every actor process, and carries messages."""

from __future__ import annotations

import os
from typing import Any

import pytest
from thespian.actors import Actor, ActorAddress

from bench.ceilings import actor_system
from harness.nodes import assert_session_gone

pytestmark = [pytest.mark.timeout(120)]

ASK_S = 30.0


class _Reporter(Actor):
    """Answers what its own process runs; relays a payload through a partner and back."""

    def receiveMessage(self, message: Any, sender: ActorAddress) -> None:
        from runtime import leanloop

        if message == "what runs here?":
            self.send(sender, (os.getpid(), leanloop.installed()))
        elif isinstance(message, tuple) and message[0] == "relay":
            _, partner, payload = message
            self.send(partner, ("echo", sender, payload))
        elif isinstance(message, tuple) and message[0] == "echo":
            _, back_to, payload = message
            self.send(back_to, payload)


def test_every_actor_process_runs_the_cheaper_loop_and_large_messages_cross_it() -> None:
    with actor_system() as system:
        asys = system.asys
        first, second = asys.createActor(_Reporter), asys.createActor(_Reporter)
        answers = [asys.ask(actor, "what runs here?", ASK_S) for actor in (first, second)]
        assert all(isinstance(answer, tuple) for answer in answers), answers
        assert {pid for pid, _ in answers}.isdisjoint({os.getpid()})
        assert [lean for _, lean in answers] == [True, True]
        # Bigger than a socket buffer, so a send takes several passes of the loop.
        payload = [bytes([n % 251]) * 1000 for n in range(3000)]
        assert asys.ask(first, ("relay", second, payload), ASK_S) == payload
    assert_session_gone(system.session)
