"""One run of the node under the launcher: its parts started in order, watched, stopped.

Kept apart from `launcher.py` because it imports the actor and metrics code,
which must come after the metrics directory is set.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from actors.bridge.broadcast import BroadcastError, make_broadcaster
from actors.messages import ChainStatus, ConfigReloaded, GetChainStatus, ReloadConfig
from actors.storage.database import Database
from actors.storage.errors import StorageError
from nodeconfig import NodeConfig
from runtime.buildinfo import git_commit, package_version
from runtime.loglevel import apply_level
from runtime.processes import is_alive, kill_all, kill_now, listening_pid, session_members
from runtime.rundir import RunPaths
from supervision import runfile
from supervision.exits import EXIT_FAILED, EXIT_OK, LauncherError
from supervision.http_endpoint import NodeHealth, serve
from supervision.info import NodeInfo
from supervision.node import Node, NodeStartError
from supervision.notify import (
    Notifier,
    NotifyError,
    WatchdogBeat,
    watchdog_interval_s,
    watchdog_problem,
)
from supervision.policy import Decision, ExitReason, decide
from supervision.protocol import _ConfigChanged, _GivingUp
from supervision.supervisor import supervision_line

MOCK_READY_TIMEOUT_S = 20.0
ROOT_CHECK_S = 0.05  # how often the launcher looks whether the root's process still exists
STATUS_ASK_S = 0.5  # one status ask; silence only counts as a hang after ping_timeout_s
RELOAD_ASK_S = 10.0  # the root reads and checks the file, then tells its children
CHAIN_INFO_S = 5.0  # how often `/info`'s height and federation are asked for


class NodeRun:
    def __init__(self, config: NodeConfig, paths: RunPaths, stop: threading.Event,
                 log: logging.Logger) -> None:
        self.config = config
        self.paths = paths
        self.stop_requested = stop
        self.log = log
        self.node = Node(config)
        self.mock: subprocess.Popen[bytes] | None = None
        self.http: ThreadingHTTPServer | None = None
        interval = config.supervision.health.ping_interval_s
        self.health = NodeHealth(
            stale_after_s=interval + config.supervision.health.ping_timeout_s,
            data_dir=os.path.dirname(os.path.abspath(config.storage.path)))
        self.root_history: tuple[float, ...] = ()
        self.root_exit_reason: ExitReason | None = None
        self.info = NodeInfo(config, version=package_version(), commit=git_commit())
        self.reload_requested = threading.Event()  # set by SIGHUP (launcher.py)
        self.notifier = Notifier(None)  # systemd's, if it gave one: see `start`
        self.beat = WatchdogBeat(None)
        self._chain_asked_at = 0.0

    # -- start ------------------------------------------------------------------

    def start(self) -> None:
        source = self.config.source
        try:
            self.notifier = Notifier.from_env()
            watchdog_s = watchdog_interval_s()
        except NotifyError as exc:
            raise LauncherError(str(exc)) from exc
        problem = watchdog_problem(watchdog_s, self.config.supervision.health.ping_interval_s,
                                   STATUS_ASK_S)
        if problem is not None:
            raise LauncherError(problem)
        self.beat = WatchdogBeat(watchdog_s)
        try:
            leftovers = runfile.clear_leftovers(self.paths.run_file, config_source=source)
            ended = leftovers.ended
            if ended:
                print(f"alys-node: ended {len(ended)} processes left by an earlier run "
                      f"(pids {', '.join(map(str, ended))})", file=sys.stderr)
                self.log.warning("ended processes left by an earlier run: %s", ended)
            for note in leftovers.left_alone:
                print(f"alys-node: left alone: {note}", file=sys.stderr)
                self.log.warning("leftovers of an earlier run: left alone: %s", note)
            runfile.require_free_ports(self._ports(), config_source=source)
        except runfile.RunConflictError as exc:
            raise LauncherError(str(exc)) from exc
        self._check_storage()
        self._check_broadcaster()
        self._record()
        if self.config.governance.mock.enabled:
            self._start_mock()
            self._record()
        metrics = self.config.metrics
        try:
            self.http = serve(metrics.host, metrics.port, self.health, self.info.document)
        except OSError as exc:
            raise LauncherError(f"cannot serve metrics on {metrics.host}:{metrics.port}: "
                                f"{exc.strerror}") from exc
        started = time.monotonic()
        try:
            report = self.node.start()
        except NodeStartError as exc:
            raise LauncherError(f"the node did not start: {exc}") from exc
        finally:
            self._record()
        self.health.record(report)
        self._ask_chain()
        self.log.info("node %s ready in %.3fs: %s", self.config.node.id,
                      time.monotonic() - started,
                      " ".join(f"{a.name}={a.pid}" for a in report.actors))
        self.notifier.ready(f"node {self.config.node.id} running")
        if self.beat.root_answered():
            self.notifier.watchdog()

    def _ports(self) -> dict[str, int]:
        ports = {"actor_system.admin_port": self.config.actor_system.admin_port,
                 "metrics.port": self.config.metrics.port}
        mock = self.config.governance.mock
        if mock.enabled:
            ports["governance.mock.port"] = mock.port
            ports["governance.mock.control_port"] = mock.control_port
        return ports

    def _check_storage(self) -> None:
        """Open, check and migrate the database before any actor starts: a corrupt
        file or a newer schema stops the start with the reason, instead of a
        StorageActor that fails and is restarted until its supervisor gives up."""
        storage = self.config.storage
        try:
            Database.open(storage.path, max_size_mb=storage.max_size_mb,
                          integrity=storage.integrity_check).close()
        except StorageError as exc:
            raise LauncherError(str(exc)) from exc

    def _check_broadcaster(self) -> None:
        """Build the broadcaster once before the BridgeActor does: a credential variable
        that is not set, or a spool that cannot be opened, stops the start with the
        reason rather than a BridgeActor failing to start again and again."""
        try:
            broadcaster = make_broadcaster(self.config.bridge.broadcaster)
        except BroadcastError as exc:
            raise LauncherError(f"bridge.broadcaster: {exc}") from exc
        close = getattr(broadcaster, "close", None)
        if close is not None:
            close()  # releases the spool's lock for the BridgeActor

    def _start_mock(self) -> None:
        mock = self.config.governance.mock
        out = self.paths.mock_output
        out.unlink(missing_ok=True)
        with out.open("wb") as sink:
            # stdout goes to a file: a pipe nobody reads would eventually block it.
            self.mock = subprocess.Popen(
                [sys.executable, "-m", "mock_governance",
                 "--port", str(mock.port), "--control-port", str(mock.control_port),
                 "--federation-seed", mock.federation_seed,
                 "--federation-size", str(mock.federation_size),
                 "--federation-threshold", str(mock.federation_threshold),
                 "--exit-with-parent", "--parent-pid", str(os.getpid())],
                stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + MOCK_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            text = out.read_text(errors="replace") if out.exists() else ""
            if "mock-governance: ready" in text:
                self.log.info("mock governance server ready: pid=%d port=%d control_port=%d",
                              self.mock.pid, mock.port, mock.control_port)
                return
            if self.mock.poll() is not None:
                raise LauncherError(f"the mock governance server exited with code "
                                    f"{self.mock.returncode}: {text.strip()[-500:]}")
            if self.stop_requested.wait(0.05):
                raise LauncherError("stopped while the mock governance server was starting")
        raise LauncherError(f"the mock governance server was not ready within "
                            f"{MOCK_READY_TIMEOUT_S:.0f}s (output in {out})")

    def _record(self) -> None:
        handle = self.node.handle
        runfile.write(self.paths.run_file, runfile.RunRecord(
            launcher_pid=os.getpid(),
            admin_port=self.config.actor_system.admin_port,
            session_id=handle.session_id if handle else None,
            admin_pid=handle.admin_pid if handle else None,
            mock_pid=self.mock.pid if self.mock else None,
            node_id=self.config.node.id,
            launcher_started=runfile.started_at(os.getpid()),
            admin_started=runfile.started_at(handle.admin_pid) if handle else None,
            mock_started=runfile.started_at(self.mock.pid) if self.mock else None,
        ))

    def ready_line(self) -> str:
        metrics = self.config.metrics
        return (f"ready: admin_port={self.config.actor_system.admin_port} "
                f"metrics=http://{metrics.host}:{metrics.port}/metrics "
                f"log={self.config.logging.file} pid={os.getpid()}")

    # -- watch ------------------------------------------------------------------

    def watch(self) -> int:
        """Watch the root until told to stop: its pid often, its answers every health interval.

        A dead root is re-created (with a fresh tree) within the root's own
        intensity limits; a root that is alive but has not answered for
        `ping_timeout_s` is hung, and is killed to be re-created. A dead admin
        ends the run: the operator's process manager restarts the node.
        """
        health = self.config.supervision.health
        last_answer = next_ask = time.monotonic()
        while not self.stop_requested.wait(ROOT_CHECK_S):
            if self.reload_requested.is_set() and self.node.root_alive():
                self.reload_requested.clear()
                self.reload()
            # A dead root shows within ROOT_CHECK_S (its pid is gone: a cheap check);
            # the status ask, short so that a root dying mid-ask costs little, waits
            # for the health interval.
            now = time.monotonic()
            if self.node.root_alive() and now < next_ask:
                continue
            next_ask = now + health.ping_interval_s
            self._keep_mock_running()
            report = self.node.status(timeout_s=STATUS_ASK_S)
            if report is not None:
                last_answer = time.monotonic()
                self.health.record(report)
                self._root_answered()
                continue
            if self.stop_requested.is_set():
                break
            handle = self.node.handle
            if handle is not None and self._admin_gone(handle.admin_pid):
                self.log.error("the actor system's admin (pid %d) died: stopping the node",
                               handle.admin_pid)
                print(f"alys-node: the actor system's admin (pid {handle.admin_pid}) died",
                      file=sys.stderr)
                return EXIT_FAILED
            silent_s = time.monotonic() - last_answer
            root_pid = self.node.root_pid
            hung = silent_s >= health.ping_timeout_s
            if root_pid is not None and self.node.root_alive() and hung:
                self.log.warning("the root supervisor (pid %d) did not answer for %.1fs: "
                                 "killing it", root_pid, silent_s)
                self.root_exit_reason = ExitReason.HUNG
                kill_now(root_pid)
            if not self.node.root_alive():
                if not self._recover_root():
                    print("alys-node: the root supervisor failed too often", file=sys.stderr)
                    return EXIT_FAILED
                last_answer = time.monotonic()
        return EXIT_OK

    def _root_answered(self) -> None:
        """After each answer of the root: systemd's watchdog, a config the root reloaded
        (a client's `ReloadConfig`), and now and then the chain's height for `/info`."""
        if self.beat.root_answered():
            self.notifier.watchdog()
        self._adopt_reloaded()
        if time.monotonic() - self._chain_asked_at >= CHAIN_INFO_S:
            self._ask_chain()

    def _ask_chain(self) -> None:
        self._chain_asked_at = time.monotonic()
        chain = self.node.lookup("chain", timeout_s=STATUS_ASK_S)
        status = chain and self.node.ask(chain, GetChainStatus(), STATUS_ASK_S,
                                         expect=ChainStatus)
        if isinstance(status, ChainStatus):
            self.info.record_chain(status)

    # -- reload -----------------------------------------------------------------

    def reload(self) -> ConfigReloaded | None:
        """SIGHUP: have the root re-read the file (it decides and applies, all or
        nothing), and tell systemd around it. None if the root did not answer."""
        self.notifier.reloading()
        answer = self.node.ask(self.node.root, ReloadConfig(), RELOAD_ASK_S,
                               expect=ConfigReloaded)
        self._adopt_reloaded()
        reply = answer if isinstance(answer, ConfigReloaded) else None
        if reply is None:
            self.log.error("config reload: the root supervisor did not answer within %.0fs",
                           RELOAD_ASK_S)
        elif reply.refused is not None:
            print(f"alys-node: config reload refused: {reply.refused}", file=sys.stderr)
        self.notifier.ready(f"node {self.config.node.id} running")
        return reply

    def _adopt_reloaded(self) -> None:
        """The root applied a reloaded config: a root re-created from now on gets it, and
        the launcher's own log and `/info` follow it. (Its `_ConfigChanged` goes before
        its answer, so an ask for the answer has kept it.)"""
        unsolicited = self.node.unsolicited
        changes = [m for m in unsolicited if isinstance(m, _ConfigChanged)]
        if not changes:
            return
        for change in changes:
            unsolicited.remove(change)
        config = changes[-1].config
        self.config = config
        self.node.config = config
        apply_level(self.log, config.logging.level)
        self.info.set_config(config)

    def _keep_mock_running(self) -> None:
        """The local mock governance server is part of the node in local mode: restart it."""
        if self.mock is None or self.mock.poll() is None:
            return
        self.log.warning("the mock governance server (pid %d) exited with %s: restarting it",
                         self.mock.pid, self.mock.returncode)
        try:
            self._start_mock()
        except LauncherError as exc:
            self.log.error("the mock governance server did not come back: %s", exc)
        self._record()

    def _admin_gone(self, admin_pid: int) -> bool:
        """The admin's process is gone and nothing listens on its port any more."""
        port = self.config.actor_system.admin_port
        return not is_alive(admin_pid) and listening_pid(port) != admin_pid

    def _recover_root(self) -> bool:
        """Re-create the root within its intensity; False when that is exceeded."""
        if any(isinstance(m, _GivingUp) for m in self.node.unsolicited):
            self.root_exit_reason = ExitReason.ESCALATED  # it exceeded its own intensity
        # A config the dead root applied (a client's reload) before the launcher heard of
        # it: the new root starts with it, not with the one the reload replaced.
        self._adopt_reloaded()
        self.node.unsolicited.clear()
        reason = self.root_exit_reason or ExitReason.KILLED
        self.root_exit_reason = None
        flags = self.config.supervision.flags_for("root")
        verdict = decide(restart="permanent", reason=reason, flags=flags,
                         history=self.root_history, now=time.monotonic())
        self.root_history = verdict.history
        old_pid = self.node.root_pid
        self.log.warning(supervision_line(
            "child_exited", supervisor="launcher", child="root", reason=reason.value,
            decision=verdict.decision.value, attempt=verdict.attempt, old_pid=old_pid,
            new_pid=None))
        if verdict.decision is not Decision.RESTART:
            return False
        try:
            report = self.node.recover_root()
        except NodeStartError as exc:
            self.log.error("the root supervisor could not be re-created: %s", exc)
            return False
        self.health.record(report)
        self.log.info(supervision_line(
            "restart", supervisor="launcher", child="root", reason=reason.value,
            decision=Decision.RESTART.value, attempt=verdict.attempt, old_pid=old_pid,
            new_pid=self.node.root_pid))
        return True

    # -- stop -------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every part that was started, in reverse order; safe to call once anything ran."""
        self.notifier.stopping()
        handle = self.node.handle
        try:
            killed = self.node.stop()
            if killed:
                self.log.warning("killed %d processes that outlived the shutdown: %s",
                                 len(killed), killed)
        except Exception:  # the system may be half dead; the session sweep below still runs
            self.log.exception("actor system shutdown failed")
            if handle is not None:
                kill_all(session_members(handle.session_id))
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        if self.mock is not None and self.mock.poll() is None:
            self.mock.terminate()
            try:
                self.mock.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.mock.kill()
                self.mock.wait()
        self.paths.run_file.unlink(missing_ok=True)
        self.log.info("node %s stopped", self.config.node.id)

