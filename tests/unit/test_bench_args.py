"""`scripts/bench --cpus`: the CPU list a slower machine is reproduced with."""

import argparse
import os

import pytest

from bench.__main__ import cpu_list, parse_args


def test_a_cpu_list_reads_as_taskset_writes_it():
    first = min(os.sched_getaffinity(0))
    assert cpu_list(str(first)) == {first}
    assert cpu_list(f"{first}-{first}") == {first}
    assert cpu_list(f"{first},{first}") == {first}


@pytest.mark.parametrize("text", ["", "x", "0-", "-1", "1.5"])
def test_a_cpu_list_that_is_not_one_is_refused_by_its_text(text):
    with pytest.raises(argparse.ArgumentTypeError, match="CPU"):
        cpu_list(text)


def test_a_cpu_this_process_may_not_use_is_refused_by_number():
    beyond = max(os.sched_getaffinity(0)) + 1
    with pytest.raises(argparse.ArgumentTypeError, match=rf"\[{beyond}\] are not among"):
        cpu_list(str(beyond))


def test_the_option_reaches_the_arguments():
    first = min(os.sched_getaffinity(0))
    args, _ = parse_args(["--quick", "--cpus", str(first)])
    assert args.cpus == {first}
    args, _ = parse_args(["--quick"])
    assert args.cpus is None


def test_tracing_is_off_unless_asked_for():
    assert parse_args(["--quick"])[0].tracing is False
    assert parse_args(["--quick", "--tracing"])[0].tracing is True


def test_the_collector_stand_in_counts_exports_and_refuses_other_paths():
    import urllib.error
    import urllib.request

    from bench.otlp_sink import otlp_sink

    with otlp_sink() as (url, sink):
        request = urllib.request.Request(url, data=b"\x0a\x00", method="POST",
                                         headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(urllib.request.Request(
                url.replace("/v1/traces", "/v1/logs"), data=b"x", method="POST"), timeout=5)
    assert (sink.exports, sink.bytes) == (1, 2)
    assert sink.refused == ["/v1/logs application/x-www-form-urlencoded 1"]


def test_a_huge_cpu_range_is_refused_without_being_spelled_out():
    # Spelled out, 0-99999999999 would fill memory before it were refused; this smaller
    # one shows it is cut at the first CPU past those allowed.
    beyond = max(os.sched_getaffinity(0)) + 1
    with pytest.raises(argparse.ArgumentTypeError, match=rf"{beyond}\] are not among") as err:
        cpu_list("0-1000000")
    assert len(str(err.value)) < 200 + 4 * beyond
