#!/usr/bin/env bash
# scripts/build-deb.sh [OUTDIR]: build the Debian package tenback_VERSION_ARCH.deb from
# this tree (committed or not) with dpkg-buildpackage (debhelper, meson), in a private
# copy so that nothing is written beside the repository; the .deb lands in OUTDIR
# (default build/deb/). The build dependencies are debian/control's Build-Depends
# (scripts/setup.sh installs them). DEB_BUILD_OPTIONS=nocheck skips the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${1:-$root/build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

work=$(mktemp -d /tmp/tenback-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/tenback"
# the tracked and untracked files that are not ignored: no build directories
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -xf - -C "$work/tenback"

(cd "$work/tenback" && dpkg-buildpackage -b -us -uc --no-sign) >"$work/build.log" 2>&1 || {
	echo "build-deb.sh: dpkg-buildpackage failed; the end of its log:" >&2
	tail -n 60 "$work/build.log" >&2
	exit 1
}
debs=("$work"/*.deb)
cp "${debs[@]}" "$out/"
for d in "${debs[@]}"; do echo "$out/$(basename "$d")"; done
