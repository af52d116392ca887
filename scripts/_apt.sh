# Sourced by the scripts that install a Debian package on a fresh machine.
# `apt_install PACKAGE...`: as root on Debian, refresh the package lists (a fresh machine may
# have none, or stale ones) and install, without questions; returns 1 without trying anywhere
# else. unattended-upgrades may hold the dpkg lock for minutes after boot: wait for it.
apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    local apt=(apt-get -q -y -o DPkg::Lock::Timeout=600)
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >&2 &&
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends "$@" >&2
}
