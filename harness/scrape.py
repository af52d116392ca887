"""Reading samples out of a Prometheus text exposition, as a scrape would see them."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample called exactly `name` (a histogram's `_bucket`, `_count` included),
    with its labels."""
    return [(dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name]


def sample(text: str, name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """The value of the one sample `name` whose labels include `labels`; None if absent."""
    wanted = dict(labels or {})
    for found, value in samples(text, name):
        if wanted.items() <= found.items():
            return value
    return None


def node_exposition() -> str:
    """What the node's processes wrote to the metrics directory of this process, summed as
    the launcher's /metrics sums it (the node must have set that directory)."""
    from runtime import metrics  # after the node set the metrics directory

    return metrics.exposition().decode()
