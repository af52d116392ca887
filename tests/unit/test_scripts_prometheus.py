"""scripts/_prometheus.sh, which scripts/test runs first: on a fresh Debian machine, as
root, it installs the prometheus package, non-interactively and after an `apt-get update`,
and says plainly when that fails. Driven with stand-ins for `id` and `apt-get` on PATH."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "_prometheus.sh"
BASH = "/bin/bash"


def _tool(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def _machine(tmp_path: Path, uid: int, install_works: bool, busy: int = 0) -> Path:
    """A PATH with no promtool, an `id` saying `uid`, and an `apt-get` that logs each call
    (and DEBIAN_FRONTEND) and, if `install_works`, puts promtool and prometheus on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "id", f"echo {uid}\n")
    install = (f"printf '#!/bin/bash\\n' > {bin_dir}/promtool; /bin/chmod +x {bin_dir}/promtool\n"
               f"/bin/cp {bin_dir}/promtool {bin_dir}/prometheus\n" if install_works
               else "echo 'E: Unable to locate package prometheus' >&2; exit 100\n")
    # The first `busy` updates find the lists locked by another apt, as right after boot.
    busy_updates = tmp_path / "busy-updates"
    busy_updates.write_text("x" * busy)
    _tool(bin_dir, "apt-get",
          f'echo "$DEBIAN_FRONTEND $*" >> {tmp_path}/apt.log\n'
          f'busy=$(<{busy_updates})\n'
          f'case " $* " in *" update "*) if [ -n "$busy" ]; then\n'
          f'  echo -n "${{busy#x}}" > {busy_updates}\n'
          f'  echo "E: Could not get lock /var/lib/apt/lists/lock." >&2; exit 100; fi;;\n'
          f'*" install "*) {install};; esac\n')
    _tool(bin_dir, "sleep", f'echo "$*" >> {tmp_path}/sleep.log\n')
    # No systemd on this machine: the package's init script starts a server; `service` logs.
    _tool(bin_dir, "service", f'echo "$*" >> {tmp_path}/service.log\n')
    return bin_dir


def _ensure(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, "-c", f"source {SCRIPT} && ensure_prometheus"],
                          env={"PATH": str(bin_dir)}, capture_output=True, text=True,
                          timeout=30)


def test_as_root_it_updates_then_installs_without_questions(tmp_path: Path) -> None:
    result = _ensure(_machine(tmp_path, uid=0, install_works=True))
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert [call.split()[0] for call in calls] == ["noninteractive", "noninteractive"]
    assert " update" in calls[0] and "install" in calls[1] and "prometheus" in calls[1]
    assert all("-y" in call.split() for call in calls)
    assert "installing Debian's prometheus package" in result.stderr


def test_a_failed_install_says_so_and_fails(tmp_path: Path) -> None:
    result = _ensure(_machine(tmp_path, uid=0, install_works=False))
    assert result.returncode == 1
    assert "installing Debian's prometheus package failed" in result.stderr
    assert "Unable to locate package" in result.stderr  # apt-get's own reason, not hidden


def test_not_root_it_installs_nothing_and_says_what_to_install(tmp_path: Path) -> None:
    result = _ensure(_machine(tmp_path, uid=1000, install_works=True))
    assert result.returncode == 1
    assert "apt-get install prometheus" in result.stderr
    assert not (tmp_path / "apt.log").exists()


def test_without_systemd_the_server_the_package_started_is_stopped(tmp_path: Path) -> None:
    result = _ensure(_machine(tmp_path, uid=0, install_works=True))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "service.log").read_text().splitlines() == ["prometheus stop"]


def test_a_failed_install_stops_nothing(tmp_path: Path) -> None:
    _ensure(_machine(tmp_path, uid=0, install_works=False))
    assert not (tmp_path / "service.log").exists()


def test_package_lists_locked_by_another_apt_are_waited_for(tmp_path: Path) -> None:
    result = _ensure(_machine(tmp_path, uid=0, install_works=True, busy=2))
    assert result.returncode == 0, result.stderr
    calls = [call.split()[-1] for call in (tmp_path / "apt.log").read_text().splitlines()]
    assert calls == ["update", "update", "update", "prometheus"]
    assert (tmp_path / "sleep.log").read_text().splitlines() == ["5", "5"]


def test_a_lock_held_for_too_long_fails(tmp_path: Path) -> None:
    result = _ensure(_machine(tmp_path, uid=0, install_works=True, busy=1000))
    assert result.returncode == 1
    assert len((tmp_path / "sleep.log").read_text().splitlines()) == 600 // 5
    assert "install" not in (tmp_path / "apt.log").read_text()
