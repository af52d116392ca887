"""Where the ChainActor's block height comes from: a slot clock or an EVM node.

``chain.height_source.kind`` picks one. The ChainActor persists the clock's
genesis so heights survive restarts, and keeps its own height monotonic as
max(current, source): a source that goes back (a restarted devnet, a node
behind a load balancer) never moves the node's height back. Both sources
answer ``height(now_s)``; the EVM source ignores ``now_s``, so the actor can
call either the same way. Calls run inside an actor: no sleeping, and the
RPC carries a short timeout.
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import re
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Protocol

from runtime.endpoint import endpoint

if TYPE_CHECKING:
    from nodeconfig import HeightSourceConfig

# An Ethereum JSON-RPC quantity. The spec forbids leading zeros and asks for
# lower case; real nodes comply, and accepting either costs nothing.
_HEX_QUANTITY = re.compile(r"0x[0-9a-fA-F]+")


class HeightSourceError(Exception):
    """The height could not be read; the actor keeps its last height and asks again later."""


class HeightSourceMisconfigured(HeightSourceError, ValueError):
    """``chain.height_source`` cannot build a source (unknown kind, missing URL)."""


class HeightSource(Protocol):
    def height(self, now_s: float) -> int: ...


class ClockHeight:
    """One block every ``slot_s`` seconds since ``genesis_s`` (wall-clock seconds)."""

    def __init__(self, slot_s: float, genesis_s: float) -> None:
        if not slot_s > 0:
            raise HeightSourceMisconfigured(f"slot_s must be positive, got {slot_s}")
        self.slot_s = slot_s
        self.genesis_s = genesis_s

    def height(self, now_s: float) -> int:
        # A clock stepped back before genesis reads as height 0, never negative.
        return max(0, math.floor((now_s - self.genesis_s) / self.slot_s))


class EvmRpcHeight:
    """The latest block number of an EVM node, from ``eth_blockNumber`` (JSON-RPC 2.0)."""

    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        # Credentials in the URL go as a Basic header; messages name scheme, host and port.
        target = endpoint(url)
        self.url, self._headers, self._where = target.url, target.headers, target.where
        self._timeout_s = timeout_s
        self._ids = itertools.count(1)
        # Ignore *_proxy environment variables: the configured URL is reached directly.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def height(self, now_s: float | None = None) -> int:
        """The node's block number; ``now_s`` is unused (see the module docstring)."""
        reply = self._call("eth_blockNumber")
        if "error" in reply and reply["error"] is not None:
            error = reply["error"]
            if isinstance(error, dict):
                error = f"{error.get('code')}: {error.get('message')}"
            raise HeightSourceError(f"eth_blockNumber at {self._where}: JSON-RPC error {error}")
        result = reply.get("result")
        if not isinstance(result, str) or _HEX_QUANTITY.fullmatch(result) is None:
            raise HeightSourceError(
                f"eth_blockNumber at {self._where}: result {result!r} is not a 0x-prefixed hex "
                "quantity"
            )
        return int(result, 16)

    def _call(self, method: str) -> dict[str, object]:
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": []}
        ).encode()
        request = urllib.request.Request(
            self.url, data=body, headers=self._headers, method="POST"
        )
        where = f"{method} at {self._where}"
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            raise HeightSourceError(f"{where}: HTTP {exc.code} {exc.reason}") from None
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise HeightSourceError(f"{where}: connection failed: {reason}") from None
        if status != http.client.OK:  # a 2xx other than 200 is no JSON-RPC answer either
            raise HeightSourceError(f"{where}: HTTP {status}")
        try:
            reply = json.loads(payload)
        except ValueError:
            raise HeightSourceError(f"{where}: response is not JSON") from None
        if not isinstance(reply, dict):
            raise HeightSourceError(f"{where}: response is not a JSON-RPC object")
        return reply


def make_height_source(config: HeightSourceConfig, genesis_s: float) -> ClockHeight | EvmRpcHeight:
    """The source ``chain.height_source`` asks for; ``genesis_s`` matters to the clock only."""
    if config.kind == "clock":
        return ClockHeight(config.slot_s, genesis_s)
    if config.kind == "evm_rpc":
        if not config.rpc_url:
            raise HeightSourceMisconfigured(
                "chain.height_source.rpc_url is required when kind is evm_rpc"
            )
        return EvmRpcHeight(config.rpc_url)
    raise HeightSourceMisconfigured(f"unknown chain.height_source.kind {config.kind!r}")
