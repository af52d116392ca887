"""The Grafana dashboard's queries (`ops/grafana/alys-node.json`), as tests check them.

A panel's query is PromQL with Grafana's variables in it; `runnable` gives it values
Prometheus takes, and `metric_names` lists the metric names it reads (what is left
once label matchers, ranges, grouping clauses, functions and keywords are taken out).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "ops" / "grafana" / "alys-node.json"

# Grafana's values for the variables the dashboard uses, as Prometheus would get them.
VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$instance": ".+", "$job": "alys-node"}
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
             "group_left", "group_right", "inf", "nan", "Inf", "NaN"}


def load(path: Path = DASHBOARD) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def panels(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' folded panels included."""
    found: list[dict[str, Any]] = []
    for panel in document.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def panel_queries(path: Path = DASHBOARD) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel."""
    return [(panel["title"], target["expr"]) for panel in panels(load(path))
            for target in panel.get("targets", [])]


def runnable(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def metric_names(expr: str) -> set[str]:
    text = _GROUPING.sub(" ", _RANGES.sub(" ", _MATCHERS.sub(" ", _STRINGS.sub(" ", expr))))
    names = set()
    for match in _NAME.finditer(text):
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or match.group() in _KEYWORDS:
            continue  # a function or an aggregation, or a keyword
        names.add(match.group())
    return names
