# Sourced by scripts/test. `ensure_prometheus` makes sure promtool and prometheus are on
# PATH: promtool checks the rules, and the tests run a real Prometheus server. On a fresh
# Debian machine, as root, it installs Debian's `prometheus` package (2.42 on Debian 12),
# which holds both, and says so; anywhere else it says what to install.
source "${BASH_SOURCE[0]%/*}/_apt.sh"
ensure_prometheus() {
    if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "scripts/test needs promtool and prometheus on PATH: run it as root on Debian to" \
             "have them installed, or install them (Debian: apt-get install prometheus)" >&2
        return 1
    fi
    echo "== installing Debian's prometheus package (promtool and the server the tests run)" >&2
    if ! apt_install prometheus; then
        echo "scripts/test: installing Debian's prometheus package failed (apt-get says why" \
             "above); install it (apt-get install prometheus) and run scripts/test again" >&2
        return 1
    fi
    # The package starts a system-wide server on :9090 (through systemd, or, on a machine
    # without it, through its init script); the tests start their own, and one left running
    # would take CPU from them and outlive the run.
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
        service prometheus stop >/dev/null 2>&1 || true
    fi
    if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
        echo "scripts/test: the prometheus package is installed, but promtool or prometheus" \
             "is still not on PATH ($PATH)" >&2
        return 1
    fi
}
