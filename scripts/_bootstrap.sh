# Sourced by every script: makes sure the repo's .venv exists and holds the
# project's dependencies, reinstalling only when the packaging files change.
# Afterwards $PY is the venv's python and the working directory is the repo root.
set -euo pipefail
CALLER_DIR="$PWD"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

_base_python() {
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    echo "alys-node needs Python >= 3.11 on PATH" >&2
    return 1
}

if [ ! -x "$PY" ]; then
    echo "bootstrap: creating $VENV" >&2
    source "$ROOT/scripts/_venv.sh"
    make_venv "$(_base_python)" "$VENV"
fi

stamp="$VENV/.alys-installed"
want="$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "bootstrap: installing dependencies into $VENV" >&2
    "$PY" -m pip install --quiet --upgrade pip >&2
    "$PY" -m pip install --quiet -e ".[test]" >&2
    echo "$want" > "$stamp"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# Fill ARGS with "$@", a relative --config made absolute against the caller's
# directory (the scripts run from the repo root).
resolve_config_args() {
    ARGS=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --config) ARGS+=("$1" "$(cd "$CALLER_DIR" && realpath -m -- "${2:-}")"); shift 2 || shift ;;
            --config=*) ARGS+=("--config=$(cd "$CALLER_DIR" && realpath -m -- "${1#--config=}")"); shift ;;
            *) ARGS+=("$1"); shift ;;
        esac
    done
}
