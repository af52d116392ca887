# Sourced by scripts/test. `ensure_prometheus` makes sure promtool and prometheus are on
# PATH: promtool checks the rules, and the tests run a real Prometheus server. On a fresh
# Debian machine, as root, it installs Debian's `prometheus` package (2.42 on Debian 12),
# which holds both, and says so; anywhere else it says what to install.
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
    # A fresh machine may have no package lists yet, and unattended-upgrades may hold the
    # dpkg lock for minutes after boot: wait for it rather than fail at once.
    local apt=(apt-get -q -y -o DPkg::Lock::Timeout=600)
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >&2 ||
       ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends \
            prometheus >&2; then
        echo "scripts/test: installing Debian's prometheus package failed (apt-get says why" \
             "above); install it (apt-get install prometheus) and run scripts/test again" >&2
        return 1
    fi
    # The package enables a system-wide server; the tests start their own.
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
    if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
        echo "scripts/test: the prometheus package is installed, but promtool or prometheus" \
             "is still not on PATH ($PATH)" >&2
        return 1
    fi
}
