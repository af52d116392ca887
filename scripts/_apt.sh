# Sourced by the scripts that install a Debian package on a fresh machine.
# `apt_install PACKAGE...`: as root on Debian, refresh the package lists (a fresh machine may
# have none, or stale ones) and install, without questions; returns 1 without trying anywhere
# else. Right after boot apt's daily job may hold the locks for minutes: wait for it.
APT_LOCK_WAIT_S=600
APT_LOCK_RETRY_S=5

apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    local apt=(apt-get -q -y -o "DPkg::Lock::Timeout=$APT_LOCK_WAIT_S")
    _apt_update "${apt[@]}" &&
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends "$@" >&2
}

# DPkg::Lock::Timeout makes `install` wait for dpkg's lock, but `update` gives up at once
# when another apt holds the lists' lock ("Could not get lock"): retry that, and only that.
_apt_update() {
    local errors waited=0
    until errors="$( { DEBIAN_FRONTEND=noninteractive "$@" update 2>&1 >&3; } 3>&2 )"; do
        echo "$errors" >&2
        if [[ "$errors" != *"Could not get lock"* ]] || [ "$waited" -ge "$APT_LOCK_WAIT_S" ]; then
            return 1
        fi
        echo "apt: another apt holds the package lists; retrying in $APT_LOCK_RETRY_S s" >&2
        sleep "$APT_LOCK_RETRY_S"
        waited=$((waited + APT_LOCK_RETRY_S))
    done
    [ -z "$errors" ] || echo "$errors" >&2
}
