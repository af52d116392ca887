# Sourced by _bootstrap.sh. `make_venv PYTHON DIR` creates a virtualenv. Debian's Python
# ships without ensurepip (it is in the pythonX.Y-venv package), and `python -m venv` then
# fails after leaving a half-made DIR that later runs would take for a finished one: so on
# failure DIR is removed and, as root on Debian, that package is installed and venv retried.
source "${BASH_SOURCE[0]%/*}/_apt.sh"
make_venv() {
    local python="$1" dir="$2" version
    "$python" -m venv "$dir" && return 0
    rm -rf -- "$dir"
    version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    echo "bootstrap: installing Debian's python$version-venv package, which venv needs" >&2
    if ! apt_install "python$version-venv"; then
        echo "bootstrap: could not create $dir: install python$version-venv (Debian) or" \
             "run this as root on Debian to have it installed" >&2
        return 1
    fi
    "$python" -m venv "$dir" || { rm -rf -- "$dir"; return 1; }
}
