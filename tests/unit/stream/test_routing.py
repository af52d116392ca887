"""At-least-once routing with an in-flight bound: pure logic, no actors."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.stream.routing import InboundRouter


def admit_all(router: InboundRouter, ids: list[str], target: str = "chain") -> None:
    for request_id in ids:
        assert router.admit(request_id, target, f"msg-{request_id}")


def test_with_nothing_in_flight_whatever_waits_goes_at_once() -> None:
    router = InboundRouter(max_in_flight=10)
    admit_all(router, ["a", "b"])
    assert router.take("chain", 5) == ["msg-a", "msg-b"]
    assert router.in_flight("chain") == 2


def test_a_partial_batch_goes_while_few_partial_batches_are_unconfirmed() -> None:
    router = InboundRouter(max_in_flight=10, small_sends=2)
    admit_all(router, ["a"])
    assert router.take("chain", 3) == ["msg-a"]
    admit_all(router, ["b"])
    assert router.take("chain", 3) == ["msg-b"]  # one partial batch unconfirmed: room for two
    admit_all(router, ["c", "d"])
    assert router.take("chain", 3) == []  # two partial batches unconfirmed, c, d no full one
    admit_all(router, ["e"])
    assert router.take("chain", 3) == ["msg-c", "msg-d", "msg-e"]  # a full batch goes anyway


def test_full_batches_do_not_hold_back_the_tail_of_a_burst() -> None:
    router = InboundRouter(max_in_flight=10, small_sends=1)
    admit_all(router, [str(i) for i in range(8)])
    assert router.take("chain", 3) == ["msg-0", "msg-1", "msg-2"]
    assert router.take("chain", 3) == ["msg-3", "msg-4", "msg-5"]
    assert router.take("chain", 3) == ["msg-6", "msg-7"]  # the tail goes with both in flight


def test_a_partial_batch_leaves_the_count_once_all_it_carried_is_handled() -> None:
    router = InboundRouter(max_in_flight=10, small_sends=1)
    admit_all(router, ["a", "b"])
    assert router.take("chain", 3) == ["msg-a", "msg-b"]
    admit_all(router, ["c"])
    router.handled("a")
    assert router.take("chain", 3) == []  # b is still unconfirmed
    router.handled("b")
    assert router.take("chain", 3) == ["msg-c"]


def test_a_batch_cut_short_by_the_bound_waits_for_room_for_a_full_one() -> None:
    router = InboundRouter(max_in_flight=5)
    admit_all(router, [str(i) for i in range(9)])
    assert len(router.take("chain", 3)) == 3
    assert router.take("chain", 3) == []  # room for 2 of the 6 waiting: no sliver
    router.handled("0")
    assert router.take("chain", 3) == ["msg-3", "msg-4", "msg-5"]


def test_a_requeue_forgets_the_partial_batches() -> None:
    router = InboundRouter(max_in_flight=10, small_sends=2)
    admit_all(router, ["a"])
    router.take("chain", 5)
    router.requeue("chain")  # the target was replaced: its unconfirmed batch is void
    assert router.take("chain", 5) == ["msg-a"]
    admit_all(router, ["b"])
    assert router.take("chain", 5) == ["msg-b"]  # only the re-sent batch counts: room for b
    admit_all(router, ["c"])
    assert router.take("chain", 5) == []


def test_the_in_flight_bound_holds_and_confirmations_make_room() -> None:
    router = InboundRouter(max_in_flight=4)
    admit_all(router, [str(i) for i in range(10)])
    assert len(router.take("chain", 4)) == 4
    assert router.take("chain", 4) == []
    for request_id in ("0", "1", "2", "3"):
        assert router.handled(request_id) == "chain"
    assert router.take("chain", 4) == ["msg-4", "msg-5", "msg-6", "msg-7"]


def test_duplicates_are_refused_while_unhandled_and_after_being_handled() -> None:
    router = InboundRouter(remember=2)
    assert router.admit("x", "bridge", "m")
    assert not router.admit("x", "bridge", "m")
    router.take("bridge", 10)
    assert router.handled("x") == "bridge"
    assert not router.admit("x", "bridge", "m")
    assert router.handled("x") is None  # a second Handled changes nothing


def test_only_the_most_recent_handled_ids_are_remembered() -> None:
    router = InboundRouter(remember=2)
    admit_all(router, ["a", "b", "c"])
    router.take("chain", 10)
    for request_id in ("a", "b", "c"):
        router.handled(request_id)
    assert router.admit("a", "chain", "again")  # forgotten: the oldest of three
    assert not router.admit("c", "chain", "again")


def test_a_replaced_target_gets_everything_unconfirmed_again_in_order() -> None:
    router = InboundRouter(max_in_flight=100)
    admit_all(router, ["a", "b", "c", "d"])
    router.take("chain", 2)
    router.handled("a")
    assert router.requeue("chain") == 3
    assert router.in_flight("chain") == 0
    assert router.take("chain", 10) == ["msg-b", "msg-c", "msg-d"]


def test_targets_do_not_share_their_bound() -> None:
    router = InboundRouter(max_in_flight=1)
    router.admit("s", "bridge", "sig")
    router.admit("f", "chain", "fed")
    assert router.take("bridge", 5) == ["sig"]
    assert router.take("chain", 5) == ["fed"]


@given(st.lists(st.integers(0, 50), max_size=200), st.integers(1, 8), st.integers(1, 20),
       st.integers(1, 3))
def test_every_admitted_message_is_sent_once_unless_requeued(
    ids: list[int], batch: int, bound: int, window: int
) -> None:
    router = InboundRouter(max_in_flight=bound, small_sends=window)
    admitted = [str(i) for i in dict.fromkeys(ids)]
    for request_id in ids:
        router.admit(str(request_id), "chain", str(request_id))
    sent: list[str] = []
    while len(router):
        taken = router.take("chain", batch)
        assert taken or router.in_flight("chain"), "stuck: nothing in flight, nothing sent"
        assert router.in_flight("chain") <= bound
        sent += taken
        for request_id in taken:
            router.handled(request_id)
    assert sent == admitted


def test_each_target_is_its_own_id_space() -> None:
    router = InboundRouter()
    assert router.admit("x/1", "bridge", "signatures")
    assert router.admit("x/1", "chain", "federation update")
    assert router.take("bridge", 5) == ["signatures"]
    assert router.take("chain", 5) == ["federation update"]
    assert router.handled("x/1", "chain") == "chain"
    assert router.unhandled_for("bridge") == ["signatures"] and len(router) == 1
    assert router.handled("x/1", "chain") is None  # the chain's is done; the bridge's is not
    assert not router.admit("x/1", "chain", "again")  # a duplicate of the chain's only
    assert router.handled("x/1", "bridge") == "bridge" and len(router) == 0


def test_a_handled_from_an_unknown_sender_goes_to_the_first_target_that_has_the_id() -> None:
    router = InboundRouter()
    router.admit("only-chain", "chain", "c")
    router.admit("both", "bridge", "b")
    router.admit("both", "chain", "c2")
    assert router.handled("only-chain") == "chain"
    assert router.handled("both") == "chain"  # the chain was routed to first
    assert router.handled("both") == "bridge"
    assert router.handled("both") is None


def test_an_in_order_target_has_one_send_unconfirmed_at_a_time() -> None:
    router = InboundRouter(max_in_flight=10, small_sends=2, in_order=frozenset({"chain"}))
    admit_all(router, ["v3"])
    assert router.take("chain", 3) == ["msg-v3"]
    admit_all(router, ["v4", "v5", "v6"])
    # A full batch would go to any other target; this one waits, or it could overtake v3.
    assert router.take("chain", 3) == []
    router.handled("v3")
    assert router.take("chain", 3) == ["msg-v4", "msg-v5", "msg-v6"]


def test_an_in_order_target_leaves_other_targets_as_they_were() -> None:
    router = InboundRouter(max_in_flight=10, small_sends=2, in_order=frozenset({"chain"}))
    admit_all(router, ["a"], target="bridge")
    assert router.take("bridge", 3) == ["msg-a"]
    admit_all(router, ["b"], target="bridge")
    assert router.take("bridge", 3) == ["msg-b"]


@given(st.lists(st.sampled_from(["admit", "take", "handle", "requeue"]), max_size=80),
       st.integers(1, 5))
def test_an_in_order_target_receives_every_message_in_admission_order(
    steps: list[str], batch: int
) -> None:
    # A model of the target: it applies what it receives, in arrival order; sends
    # overtaking each other is what in_order rules out, so arrival is send order here
    # once no two sends overlap. Requeues (a restarted target) may repeat, never reorder.
    router = InboundRouter(max_in_flight=4, small_sends=2, in_order=frozenset({"chain"}))
    admitted: list[str] = []
    unconfirmed: list[str] = []
    received: list[str] = []
    for step in steps:
        if step == "admit":
            admitted.append(f"v{len(admitted)}")
            admit_all(router, admitted[-1:])
        elif step == "take":
            taken = router.take("chain", batch)
            assert not (taken and unconfirmed), "a send overlapping an unconfirmed one"
            unconfirmed += taken
            received += taken
        elif step == "handle" and unconfirmed:
            router.handled(unconfirmed.pop(0).removeprefix("msg-"))
        elif step == "requeue":
            router.requeue("chain")
            unconfirmed = []
    first_arrivals = list(dict.fromkeys(received))
    assert first_arrivals == [f"msg-{v}" for v in admitted[:len(first_arrivals)]]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_target_that_confirms_nothing_for_a_while_is_stalled_until_it_makes_progress(
        ) -> None:
    clock = FakeClock()
    router = InboundRouter(max_in_flight=10, in_order=frozenset({"chain"}), clock=clock)
    admit_all(router, ["v3", "v4"])
    assert router.take("chain", 1) == ["msg-v3"]
    clock.now = 29.0
    assert router.stalled(30.0) == []
    clock.now = 30.0
    assert router.stalled(30.0) == ["chain"]  # v3 held the lane: v4 never went
    assert router.requeue("chain") == 2
    assert router.take("chain", 1) == ["msg-v3"]  # sent again, first: the order holds
    assert router.stalled(30.0) == []  # a new send restarts its clock
    clock.now = 45.0
    router.handled("v3")
    assert router.take("chain", 1) == ["msg-v4"]
    clock.now = 70.0
    assert router.stalled(30.0) == []  # progress at 45 s


def test_a_target_with_nothing_in_flight_is_never_stalled() -> None:
    clock = FakeClock()
    router = InboundRouter(clock=clock)
    admit_all(router, ["a"])
    clock.now = 1_000.0
    assert router.stalled(30.0) == []  # waiting for the target's address is not a stall


def test_a_message_the_target_failed_on_frees_the_lane_and_is_routed_again_when_pushed(
        ) -> None:
    router = InboundRouter(max_in_flight=10, in_order=frozenset({"chain"}))
    admit_all(router, ["v3", "v4"])
    assert router.take("chain", 1) == ["msg-v3"]
    assert router.failed("v3", "chain")
    assert not router.failed("v3", "chain")  # once
    assert router.take("chain", 1) == ["msg-v4"]  # the lane goes on
    assert not router.was_handled("v3", "chain")
    assert router.admit("v3", "chain", "msg-v3")  # governance's next push of it is taken
