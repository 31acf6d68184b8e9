#!/usr/bin/env bash
# scripts/setup.sh: everything tenback needs on a fresh Debian 12, as root; idempotent.
# Installs the build and test dependencies by package name (apt-get update only when
# something is missing), then configures and builds into build/. Quiet unless
# something fails, in which case it shows the log of the failing step.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

if [[ $(id -u) -ne 0 ]]; then
	echo "setup.sh: run as root (sudo ./scripts/setup.sh): it installs packages" >&2
	exit 1
fi

PACKAGES=(
	build-essential meson ninja-build pkg-config
	debhelper dpkg-dev fakeroot man-db lintian   # the Debian package (scripts/build-deb.sh, test/it/t_package.sh)
	libzstd-dev liblz4-dev libssl-dev libsqlite3-dev libpq-dev libcmocka-dev libmicrohttpd-dev libargon2-dev libcurl4-openssl-dev
	postgresql-15 postgresql-contrib     # server, pgbench, pg_checksums, amcheck
	jq perl time util-linux procps coreutils findutils diffutils sqlite3   # used by the tests
	openssl python3                      # t_alerts: the webhook signature check, the loopback receiver and SMTP sink
	clang libclang-rt-14-dev             # the sanitizer build and its libFuzzer targets (scripts/fuzz.sh)
	valgrind                             # the unit tests under memcheck
	prometheus                           # promtool: /metrics and the example rules checked by Prometheus's parser
	chromium nodejs                      # the console's browser tests (test/browser)
)
# npm comes with some nodejs builds (nodesource) and separately with Debian's
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

# A real S3 server for test/it/t_s3_storage.sh: Ceph RGW (test/fixtures/rgw.sh), without
# recommends: 62 packages, about 270 MB, a minute on a fresh machine. TB_SETUP_S3=0 leaves it
# out (only the S3 test needs it; it then fails saying so).
S3_PACKAGES=(ceph-mon ceph-osd radosgw ceph-common)

LOG=$(mktemp /tmp/tenback-setup.XXXXXX.log)
trap 'rm -f "$LOG"' EXIT

run() {  # run DESC CMD...: quiet; on failure show the output and stop
	local desc=$1; shift
	if ! "$@" >>"$LOG" 2>&1; then
		echo "setup.sh: $desc failed: $*" >&2
		tail -n 60 "$LOG" >&2
		exit 1
	fi
}

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
missing_s3=()
if [[ ${TB_SETUP_S3:-1} != 0 ]]; then
	for p in "${S3_PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing_s3+=("$p")
		fi
	done
fi
if ((${#missing[@]} + ${#missing_s3[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	run "apt-get update" apt-get update -q
fi
if ((${#missing[@]})); then
	echo "setup.sh: installing ${missing[*]}"
	# "policy-rc.d denied execution of start" from postgresql-15 in containers is harmless
	run "apt-get install" apt-get install -y -q "${missing[@]}"
fi
if ((${#missing_s3[@]})); then
	echo "setup.sh: installing ${missing_s3[*]} (S3 test server)"
	run "apt-get install (S3 test server)" apt-get install -y -q --no-install-recommends "${missing_s3[@]}"
fi

if [[ -f build/build.ninja ]]; then
	run "meson setup --reconfigure" meson setup --reconfigure build
else
	run "meson setup" meson setup build
fi
run "build" ninja -C build
echo "setup.sh: built $(pwd)/build/tenback"

# The browser tests drive Debian's chromium with playwright-core (no browser download).
if [[ ! -d test/browser/node_modules/playwright-core ]]; then
	run "npm ci (test/browser)" bash -c 'cd test/browser && npm ci --no-audit --no-fund'
fi
