#!/usr/bin/env bash
# The Debian package: scripts/build-deb.sh builds tenback_*.deb from this tree
# (dpkg-buildpackage, debhelper, meson; unit tests left out: nocheck), dpkg -i installs
# it, /usr/bin/tenback runs, the man page, bash completion, console, documentation and
# tenback.service are where they belong (systemd-analyze verify checks the unit where it
# exists), the installed binary migrates an old metadata store (schema version 6) and
# keeps its rows, reinstalling over itself works, and dpkg --purge leaves none of the
# package's files behind.
#
# It installs into the real system: it refuses to run when a tenback package is installed
# already, and removes the package on any exit (a trap), whatever happened.
source "$(dirname "$0")/lib.sh"

if dpkg-query -W -f='${Status}' tenback 2>/dev/null | grep -q 'installed'; then
	not_ok "no tenback package installed before the test" "dpkg -l tenback: remove it first (dpkg --purge tenback)"
	exit 1
fi
_pkg_restore() {
	if dpkg-query -W -f='${Status}' tenback 2>/dev/null | grep -qv 'not-installed'; then
		dpkg --purge tenback >/dev/null 2>&1 || true
	fi
	rm -rf /var/lib/tenback.t_package
}
trap '_rc=$?; _pkg_restore; (exit $_rc); _cleanup' EXIT

# meson install respects the prefix: the development build (prefix /usr/local by
# default) installed into a staging directory
bdir=${TB_BUILD_DIR:-$REPO_ROOT/build}
prefix=$(meson introspect "$bdir" --buildoptions | jq -r '.[] | select(.name == "prefix") | .value')
if meson install -C "$bdir" --destdir "$T/stage" --no-rebuild --quiet >"$T/log/meson-install.txt" 2>&1; then
	ok "meson install --destdir (prefix $prefix)"
	for f in bin/tenback share/man/man1/tenback.1 share/bash-completion/completions/tenback \
		share/tenback/web/index.html share/doc/tenback/README.md share/doc/tenback/install.md; do
		assert_true "meson install: $prefix/$f" test -f "$T/stage$prefix/$f"
	done
	unit=$(find "$T/stage" -name tenback.service)
	assert_true "meson install: tenback.service" test -n "$unit"
	[[ -n $unit ]] && assert_contains "its ExecStart is the installed binary" "$(cat "$unit")" "ExecStart=$prefix/bin/tenback "
else
	not_ok "meson install --destdir" "$(tail -n 20 "$T/log/meson-install.txt")"
fi

log "building the package (a minute or so)"
if ! DEB_BUILD_OPTIONS=nocheck "$REPO_ROOT/scripts/build-deb.sh" "$T/deb" >"$T/log/build-deb.txt" 2>&1; then
	not_ok "scripts/build-deb.sh builds the package" "$(tail -n 30 "$T/log/build-deb.txt")"
	exit 1
fi
deb=$(ls "$T"/deb/tenback_*_"$(dpkg --print-architecture)".deb)
ok "scripts/build-deb.sh built $(basename "$deb")"

if command -v lintian >/dev/null; then
	lint=$(lintian --suppress-tags initial-upload-closes-no-bugs "$deb" 2>&1 | grep -v 'running with root privileges' || true)
	assert_eq "lintian finds no error or warning" "" "$(grep -E '^(E|W):' <<<"$lint" || true)"
else
	log "lintian is absent: the package is not linted"
fi
fields=$(dpkg-deb -f "$deb" Package Version Depends)
assert_contains "Depends computed from the linked libraries" "$fields" "libpq5"
assert_contains "Depends names libzstd" "$fields" "libzstd1"

assert_ok "dpkg -i installs it" dpkg -i "$deb"
assert_eq "dpkg says installed" "install ok installed" "$(dpkg-query -W -f='${Status}' tenback)"
assert_eq "/usr/bin/tenback --version" "tenback $(sed -n "s/^ *version : '\(.*\)',/\1/p" "$REPO_ROOT/meson.build")" \
	"$(/usr/bin/tenback --version)"
for f in /usr/share/man/man1/tenback.1.gz /usr/share/bash-completion/completions/tenback \
	/lib/systemd/system/tenback.service /usr/share/tenback/web/index.html /usr/share/doc/tenback/README.md.gz \
	/usr/share/doc/tenback/copyright; do
	assert_true "installed: $f" test -f "$f"
done
assert_ok "the man page renders" bash -c 'man -l /usr/share/man/man1/tenback.1.gz >/dev/null'
assert_contains "the man page documents the exit codes" "$(MANWIDTH=100 man -l /usr/share/man/man1/tenback.1.gz 2>/dev/null)" "EXIT STATUS"
assert_contains "the unit runs /usr/bin/tenback" "$(cat /lib/systemd/system/tenback.service)" "ExecStart=/usr/bin/tenback --home /var/lib/tenback serve"
assert_not_contains "not enabled on install" "$(ls /etc/systemd/system/multi-user.target.wants 2>/dev/null)" "tenback"

# the completion: commands, and the cluster names of the home being completed
comp=$(bash -c 'source /usr/share/bash-completion/completions/tenback
	COMP_WORDS=(tenback ba); COMP_CWORD=1; _tenback; echo "${COMPREPLY[*]}"')
assert_eq "completion of a command" "backup" "$comp"

if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify /lib/systemd/system/tenback.service 2>&1) && rc=0 || rc=$?
	if [[ $rc -eq 0 ]]; then
		ok "systemd-analyze verify tenback.service"
	elif grep -qiE 'System has not been booted with systemd|Failed to (initialize|setup) manager|Failed to connect to bus' <<<"$out"; then
		log "systemd-analyze cannot run here (no systemd as PID 1): $(head -n 1 <<<"$out")"
		ok "systemd-analyze verify: skipped (no systemd here)"
	else
		not_ok "systemd-analyze verify tenback.service" "$out"
	fi
else
	log "systemd-analyze is absent: the unit is not verified"
fi

# the installed binary migrates an older metadata store and keeps what it holds
H=/var/lib/tenback.t_package
install -d -o "$PG_USER" -m 700 "$H"
runuser -u "$PG_USER" -- sqlite3 -batch "$H/metadata.db" <"$REPO_ROOT/test/fixtures/meta/schema-v6.sql"
out=$(runuser -u "$PG_USER" -- /usr/bin/tenback --home "$H" set list --cluster main --output json)
assert_eq "the installed binary lists the old store's sets" "20261125-010000F 20261126-010000I" \
	"$(jq -r '[.[].id] | join(" ")' <<<"$out")"
assert_true "and migrated it past version 6" test "$(runuser -u "$PG_USER" -- sqlite3 "$H/metadata.db" 'PRAGMA user_version')" -gt 6
comp=$(runuser -u "$PG_USER" -- bash -c 'source /usr/share/bash-completion/completions/tenback
	COMP_WORDS=(tenback --home '"$H"' backup --cluster m); COMP_CWORD=5; _tenback; echo "${COMPREPLY[*]}"')
assert_eq "completion of a cluster name from that home" "main" "$comp"

# the installed daemon serves the installed console (no path of the build tree in it)
assert_not_contains "no build directory in the binary" "$(strings /usr/bin/tenback)" "tenback-deb."
bg runuser -u "$PG_USER" -- /usr/bin/tenback --home "$H" serve --listen 127.0.0.1:27490 >"$T/log/serve.txt" 2>&1
if wait_for "the installed daemon answers" 30 curl -sf -o /dev/null http://127.0.0.1:27490/; then
	assert_contains "it serves the console" "$(curl -sf http://127.0.0.1:27490/)" "<html"
	assert_contains "and its API" "$(curl -s http://127.0.0.1:27490/api/v1/openapi.json | head -c 200)" "openapi"
else
	not_ok "the installed daemon answers on 127.0.0.1:27490" "$(tail -n 20 "$T/log/serve.txt")"
fi
_stop_bg
_BG_PIDS=()

assert_ok "installing it again (an upgrade in place) works" dpkg -i "$deb"
assert_ok "dpkg -r removes it" dpkg -r tenback
assert_true "the binary is gone" test ! -e /usr/bin/tenback
assert_ok "dpkg --purge purges it" dpkg --purge tenback
assert_eq "dpkg no longer knows it" "" "$(dpkg-query -W -f='${Status}' tenback 2>/dev/null | grep -v not-installed || true)"
for f in /usr/bin/tenback /usr/share/man/man1/tenback.1.gz /usr/share/bash-completion/completions/tenback \
	/lib/systemd/system/tenback.service /usr/share/tenback /usr/share/doc/tenback; do
	assert_true "removed: $f" test ! -e "$f"
done
