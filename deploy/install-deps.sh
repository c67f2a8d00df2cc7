#!/usr/bin/env bash
# install-deps.sh - install the Debian packages in deploy/packages.txt that are
# missing. Idempotent and quiet when nothing is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
missing=()
while read -r pkg; do
	case "$pkg" in ''|'#'*) continue ;; esac
	# "pkg?cmd": install pkg only when no cmd is on PATH (another build of it is fine)
	case "$pkg" in *'?'*) command -v "${pkg#*\?}" >/dev/null 2>&1 && continue; pkg=${pkg%%\?*} ;; esac
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$pkg")
done < "$here/packages.txt"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: need root to apt-get install: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
