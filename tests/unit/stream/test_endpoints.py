"""Endpoint order and failover."""

from __future__ import annotations

import pytest

from actors.stream.endpoints import Endpoint, EndpointRotation


def test_the_lowest_priority_value_is_tried_first_ties_in_config_order() -> None:
    rotation = EndpointRotation([Endpoint("b:2", 20), Endpoint("a:1", 10), Endpoint("c:3", 20)])
    seen = [rotation.current.url]
    while not rotation.fail_over():
        seen.append(rotation.current.url)
    assert seen == ["a:1", "b:2", "c:3"]
    assert rotation.current.url == "a:1"  # a new round starts from the top


def test_a_single_endpoint_starts_a_new_round_on_every_failure() -> None:
    rotation = EndpointRotation([Endpoint("only:1", 100)])
    assert rotation.fail_over() and rotation.current.url == "only:1"


def test_no_endpoints_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one governance endpoint"):
        EndpointRotation([])
