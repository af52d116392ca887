"""scripts/_venv.sh, which makes the repo's .venv on a fresh machine: Debian's Python has no
ensurepip until pythonX.Y-venv is installed, and a failed `python -m venv` leaves a half-made
directory behind. Driven with stand-ins for `python`, `id` and `apt-get` on PATH."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "_venv.sh"


def _tool(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def _machine(tmp_path: Path, uid: int, venv_package: bool) -> Path:
    """A `python` whose `-m venv` makes a half directory and fails until the `venv` marker
    exists; an `apt-get` that logs its calls and, on install, creates the marker."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "venv-installed"
    if venv_package:
        marker.touch()
    _tool(bin_dir, "id", f"echo {uid}\n")
    _tool(bin_dir, "python",
          'if [ "$1" = -c ]; then echo 3.11; exit 0; fi\n'
          f'/bin/mkdir -p "$3/bin" && : > "$3/bin/python"\n'
          f'[ -e {marker} ] || {{ echo "ensurepip is not available" >&2; exit 1; }}\n'
          f': > "$3/ready"\n')
    _tool(bin_dir, "apt-get",
          f'echo "$DEBIAN_FRONTEND $*" >> {tmp_path}/apt.log\n'
          f'case " $* " in *" install "*) : > {marker};; esac\n')
    return bin_dir


def _make_venv(bin_dir: Path, venv: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/bash", "-c", f"source {SCRIPT} && make_venv python {venv}"],
                          env={"PATH": f"{bin_dir}:/bin"}, capture_output=True, text=True,
                          timeout=30)


def test_with_venv_support_it_just_makes_the_venv(tmp_path: Path) -> None:
    result = _make_venv(_machine(tmp_path, uid=0, venv_package=True), tmp_path / "venv")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "venv" / "ready").exists()
    assert not (tmp_path / "apt.log").exists()


def test_as_root_on_debian_it_installs_the_venv_package_and_retries(tmp_path: Path) -> None:
    result = _make_venv(_machine(tmp_path, uid=0, venv_package=False), tmp_path / "venv")
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert "update" in calls[0].split() and "python3.11-venv" in calls[1].split()
    assert all(call.startswith("noninteractive ") for call in calls)
    assert (tmp_path / "venv" / "ready").exists()


def test_not_root_it_leaves_no_half_made_venv_and_says_what_to_install(tmp_path: Path) -> None:
    result = _make_venv(_machine(tmp_path, uid=1000, venv_package=False), tmp_path / "venv")
    assert result.returncode == 1
    assert "install python3.11-venv" in result.stderr
    assert not (tmp_path / "venv").exists()  # a later run would take it for a finished one
    assert not (tmp_path / "apt.log").exists()
