#!/usr/bin/env bash
# build-server.sh VERSION [CACHE_DIR]
#
# Builds the Mattermost server VERSION (11.4.0, 11.1.0 or 10.3.0) from its pinning module and caches it in
# CACHE_DIR/mattermost-VERSION/ (default e2e/.cache): bin/mattermost plus the i18n/, templates/ and fonts/
# directories the server reads at run time. A cache entry is reused as is: a cold build takes about 110 s and
# 1.1 GB of RAM on 2 cores, so it happens once per machine. Prints the cache directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="${1:?usage: build-server.sh VERSION [CACHE_DIR]}"
cache="${2:-$here/.cache}"
case "$version" in
	11.4.0) mod="$here/mmserver" ;;
	11.1.0) mod="$here/mmserver-11.1" ;;
	10.3.0) mod="$here/mmserver-10.3" ;;
	*) echo "build-server.sh: no pinning module for Mattermost $version" >&2; exit 2 ;;
esac
dest="$cache/mattermost-$version"
if [[ -x "$dest/bin/mattermost" ]]; then
	echo "$dest"
	exit 0
fi
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.build-$version.XXXXXX")"
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "building Mattermost $version into $dest (cold build: 15-30 minutes on 2 cores, once)" >&2
# E2E_BUILD_PARALLELISM=1 lowers peak memory on a machine shared with other builds.
(cd "$mod" && go build -p "${E2E_BUILD_PARALLELISM:-2}" -trimpath -o "$tmp/bin/mattermost" \
	github.com/mattermost/mattermost/server/v8/cmd/mattermost)
# Only after the build: with an empty module cache `go list -m` has no directory to report until the module
# has been downloaded.
srcdir="$(cd "$mod" && go list -m -f '{{.Dir}}' github.com/mattermost/mattermost/server/v8)"
[[ -n "$srcdir" ]] || { echo "build-server.sh: cannot locate the server module's files" >&2; exit 1; }
for d in i18n templates fonts; do
	cp -r "$srcdir/$d" "$tmp/$d"
done
chmod -R u+w "$tmp"
# Another build may have finished first; either result is the same.
if ! mv -T "$tmp" "$dest" 2>/dev/null; then
	[[ -x "$dest/bin/mattermost" ]] || { echo "build-server.sh: cannot install $dest" >&2; exit 1; }
fi
trap - EXIT
rm -rf "$tmp"
echo "$dest"
