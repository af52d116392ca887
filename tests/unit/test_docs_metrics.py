"""docs/formats.md lists every metric the node exports, with its type and labels.

The metrics are found where the code defines them, not in a running node: every
call of a prometheus-client metric class (`Counter`, `Gauge`, `Histogram`, …) or
metric family (`GaugeMetricFamily`, …, built at scrape time) whose first argument
is a literal `alys_` name, in the node's installed packages. A metric made inside a
function (the request-duration histogram, whose buckets come from the config) or
only at scrape time (build info, per-actor CPU) is found like any other. A row for
a metric the code no longer defines fails too.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FORMATS = REPO.joinpath("docs/formats.md")
# The installed packages (setup.cfg): what a running node is made of.
NODE_PACKAGES = ("actors", "btc", "client", "nodeconfig", "protocol", "runtime", "supervision")

# Constructor -> the type the exposition names. Counters are exposed with `_total`
# (prometheus-client adds it, and strips it from the name given).
_TYPES = {
    "Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary",
    "Info": "info", "Enum": "stateset",
    "CounterMetricFamily": "counter", "GaugeMetricFamily": "gauge",
    "HistogramMetricFamily": "histogram", "SummaryMetricFamily": "summary",
    "InfoMetricFamily": "info", "StateSetMetricFamily": "stateset",
}
_FAMILY = re.compile(r"MetricFamily$")
_ROW = re.compile(r"^\|\s*`(alys_[a-z0-9_]+)`\s*\|\s*([a-z]+)\s*\|([^|]*)\|")


@dataclass(frozen=True)
class Metric:
    name: str  # as exposed
    type: str
    labels: tuple[str, ...]
    where: str = ""


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _strings(node: ast.expr | None) -> tuple[str, ...] | None:
    """A literal list or tuple of strings; None for anything else."""
    if not isinstance(node, ast.List | ast.Tuple):
        return None
    values = [element.value for element in node.elts
              if isinstance(element, ast.Constant) and isinstance(element.value, str)]
    return tuple(values) if len(values) == len(node.elts) else None


def metrics_in_source(source: str, where: str = "") -> list[Metric]:
    found: list[Metric] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _callee(node) not in _TYPES or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)
                and first.value.startswith("alys_")):
            continue
        kind = _TYPES[_callee(node)]
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        if _FAMILY.search(_callee(node)):
            label_node = keywords.get("labels")
        else:
            label_node = keywords.get("labelnames", node.args[2] if len(node.args) > 2 else None)
        labels = () if label_node is None else _strings(label_node)
        if labels is None:
            raise AssertionError(f"{where}: the labels of {first.value} are not a literal "
                                 "list: this test cannot read them")
        name = first.value
        if kind == "counter":
            name = name.removesuffix("_total") + "_total"
        found.append(Metric(name, kind, labels, f"{where}:{node.lineno}"))
    return found


def defined_metrics() -> dict[str, Metric]:
    found: dict[str, Metric] = {}
    for package in NODE_PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            where = str(path.relative_to(REPO))
            for metric in metrics_in_source(path.read_text(encoding="utf-8"), where):
                found.setdefault(metric.name, metric)
    return found


def documented_metrics(text: str) -> dict[str, Metric]:
    """The rows of docs/formats.md's metric table: `| `name` | type | labels | meaning |`."""
    found: dict[str, Metric] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _ROW.match(line)
        if match is None:
            continue
        name, kind, labels = match.groups()
        if name in found:
            raise AssertionError(f"docs/formats.md:{number}: {name} has a second row")
        found[name] = Metric(name, kind, tuple(re.findall(r"`([^`]+)`", labels)),
                             f"docs/formats.md:{number}")
    return found


def test_every_metric_the_code_defines_has_a_row_in_formats_md() -> None:
    defined = defined_metrics()
    documented = documented_metrics(FORMATS.read_text(encoding="utf-8"))
    missing = [f"{m.name} ({m.type}, labels {list(m.labels)}; {m.where})"
               for name, m in sorted(defined.items()) if name not in documented]
    assert not missing, "docs/formats.md has no row for:\n" + "\n".join(missing)


def test_no_row_names_a_metric_the_code_does_not_define() -> None:
    defined = defined_metrics()
    documented = documented_metrics(FORMATS.read_text(encoding="utf-8"))
    stale = [f"{m.name} ({m.where})" for name, m in sorted(documented.items())
             if name not in defined]
    assert not stale, "docs/formats.md lists metrics the code does not define:\n" + \
        "\n".join(stale)


def test_each_row_gives_the_metric_s_type_and_labels() -> None:
    defined = defined_metrics()
    documented = documented_metrics(FORMATS.read_text(encoding="utf-8"))
    wrong = [f"{row.where}: {name} is a {row.type} with labels {list(row.labels)}; the code "
             f"({defined[name].where}) makes a {defined[name].type} with labels "
             f"{list(defined[name].labels)}"
             for name, row in sorted(documented.items())
             if name in defined and (row.type, row.labels) != (defined[name].type,
                                                               defined[name].labels)]
    assert not wrong, "\n".join(wrong)


def test_the_node_defines_the_metrics_operators_alert_on() -> None:
    # The walk finds definitions of every shape the node uses: module-level, made in a
    # function, and built at scrape time.
    defined = defined_metrics()
    assert defined["alys_actor_up"].type == "gauge"
    assert defined["alys_stream_request_duration_seconds"].labels == ("type",)
    assert defined["alys_actor_cpu_seconds_total"] == Metric(
        "alys_actor_cpu_seconds_total", "counter", ("actor",),
        defined["alys_actor_cpu_seconds_total"].where)
    assert defined["alys_build_info"].labels == ("version", "commit", "python", "thespian")


# -- the checker's own checks ----------------------------------------------------------


@pytest.mark.parametrize(("source", "expected"), [
    ('X = Counter("alys_a_total", "h", ["x"])', Metric("alys_a_total", "counter", ("x",))),
    ('X = Counter("alys_a", "h")', Metric("alys_a_total", "counter", ())),
    ('X = prometheus_client.Gauge("alys_g", "h", labelnames=("a", "b"))',
     Metric("alys_g", "gauge", ("a", "b"))),
    ('def f(b):\n    return Histogram("alys_h", "h", ["t"], buckets=b, registry=None)',
     Metric("alys_h", "histogram", ("t",))),
    ('c = CounterMetricFamily("alys_cpu_seconds", "h", labels=["actor"])',
     Metric("alys_cpu_seconds_total", "counter", ("actor",))),
    ('g = GaugeMetricFamily("alys_free_bytes", "h", value=3)',
     Metric("alys_free_bytes", "gauge", ())),
])
def test_definitions_are_read_with_their_exposed_name_type_and_labels(
        source: str, expected: Metric) -> None:
    (found,) = metrics_in_source(source)
    assert (found.name, found.type, found.labels) == (expected.name, expected.type,
                                                      expected.labels)


def test_other_names_and_calls_are_not_metrics() -> None:
    assert metrics_in_source('Counter("requests_total", "h")\nCounter()\n'
                             'collections.Counter(["alys_x"])\nlog("alys_x")') == []


def test_labels_the_checker_cannot_read_fail_loudly() -> None:
    with pytest.raises(AssertionError, match="not a literal"):
        metrics_in_source('Counter("alys_a", "h", LABELS)', "x.py")


def test_rows_are_read_with_their_labels() -> None:
    text = ("| metric | type | labels | meaning |\n|---|---|---|---|\n"
            "| `alys_a_total` | counter | `actor`, `message` | A. |\n"
            "| `alys_b` | gauge | \u2013 | B. |\n")  # the table's dash: none
    assert documented_metrics(text) == {
        "alys_a_total": Metric("alys_a_total", "counter", ("actor", "message"),
                               "docs/formats.md:3"),
        "alys_b": Metric("alys_b", "gauge", (), "docs/formats.md:4"),
    }
    with pytest.raises(AssertionError, match="second row"):
        documented_metrics(text + "| `alys_b` | gauge | \u2013 | again |\n")
