# Sourced by scripts/demo and scripts/check: installs Debian packages that are
# missing. Everything havip needs is in Debian 12 (and Fedora/EL).
HAVIP_BUILD_DEPS=(build-essential meson ninja-build pkg-config libmnl-dev libnl-route-3-dev libsystemd-dev
  libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libexpected-dev libcurl4-openssl-dev)
# prometheus: its promtool checks and tests the Prometheus rules
# (tests/prometheus/run). Where systemd runs, installing it also starts a
# Prometheus server (disable it with: systemctl disable --now prometheus).
# conntrackd: the real daemon that havipd's conntrackd commands are run against
# (tests/kernel/test_conntrackd.py; installing it starts no daemon).
HAVIP_TEST_DEPS=(libgtest-dev libgmock-dev python3 python3-pytest iproute2 procps
  keepalived radvd ndisc6 prometheus conntrackd)
# The incumbent neutron-keepalived-state-change, for the side-by-side
# compatibility test (tests/e2e/test_neutron_compat.py); HAVIP_NO_NEUTRON=1
# skips it (and that test). curl: Neutron's current monitor, a dash script
# (tests/e2e/neutron/), notifies the agent with it.
HAVIP_COMPAT_DEPS=(neutron-l3-agent curl)
# scripts/build-packages and tests/packaging/run: the Debian package's build
# tools (systemd for systemd.pc), the RPM, and the checkers.
HAVIP_PACKAGING_DEPS=(debhelper dpkg-dev fakeroot scdoc systemd rpm lintian rpmlint
  man-db groff-base)

# Sanitizer and fuzzing builds (scripts/check, scripts/fuzz) and the boot test
# (tests/boot/run: a Debian 12 root booted with systemd-nspawn).
HAVIP_SANITIZE_DEPS=(clang libclang-rt-14-dev)
HAVIP_BOOT_DEPS=(debootstrap systemd-container)

# havip_install_deps PKG…: installs the packages not yet installed (all of
# them, after an apt-get update, when CI is set or when any is missing). The
# apt-get update runs once per run of scripts/check, not once per caller.
havip_install_deps() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ] && { [ -z "${CI:-}" ] || [ -n "${HAVIP_APT_DONE:-}" ]; }; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing packages (${missing[*]}); run as root or install them first" >&2
    return 1
  fi
  echo "==> installing ${missing[*]:-build and test dependencies}"
  if [ -z "${HAVIP_APT_DONE:-}" ] || [ "${#missing[@]}" -ne 0 ]; then
    apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  export HAVIP_APT_DONE=1
}
