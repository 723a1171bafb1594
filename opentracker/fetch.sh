#!/bin/sh
# fetch.sh PIN_FILE CACHE_DIR: put the orig tarball pinned in PIN_FILE
# (package, version, tarball, sha256) into CACHE_DIR and verify it.
# OPENTRACKER_TARBALL / LIBOWFAT_TARBALL=/path/to.tar.xz use a local copy
# instead of the Debian mirror (for machines that cannot reach it).  The
# mirror's address is read from this machine's apt configuration; none is
# written here.
set -eu
. "$1"
cache=$(mkdir -p "$2" && cd "$2" && pwd)
out="$cache/$tarball"
case "$package" in
  opentracker) local_copy=${OPENTRACKER_TARBALL:-} ;;
  libowfat) local_copy=${LIBOWFAT_TARBALL:-} ;;
  *) local_copy= ;;
esac

verify() {
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$sha256" ]; then
    echo "fetch: $1: sha256 $got, expected $sha256; refusing it" >&2
    return 1
  fi
}

if [ -f "$out" ] && verify "$out" 2>/dev/null; then exit 0; fi
rm -f "$out"

if [ -n "$local_copy" ]; then
  cp "$local_copy" "$out.tmp"
  verify "$out.tmp" || { rm -f "$out.tmp"; exit 1; }
  mv "$out.tmp" "$out"; exit 0
fi

uri=
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  uri=$(awk '/^URIs:/{print $2; exit}' "$f")
  [ -n "$uri" ] && break
done
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
  uri=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit} $1 == "deb" && $2 ~ /^\[/ {print $3; exit}' /etc/apt/sources.list)
fi
if [ -z "$uri" ]; then
  echo "fetch: no Debian mirror in the apt configuration; set OPENTRACKER_TARBALL / LIBOWFAT_TARBALL" >&2
  exit 1
fi

apt="$cache/apt-$package"
mkdir -p "$apt/sources" "$apt/lists/partial" "$apt/cache/archives/partial"
printf 'Types: deb-src\nURIs: %s\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$uri" > "$apt/sources/upstream.sources"
set -- -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources" \
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root
echo "fetch: $package $version from the Debian source archive"
apt-get "$@" -qq update >"$apt/update.log" 2>&1 || { cat "$apt/update.log" >&2; exit 1; }
# Only the orig tarball is used (the Debian packaging is not needed to build).
(cd "$apt" && apt-get "$@" -qq source --download-only "$package=$version") >"$apt/source.log" 2>&1 \
  || [ -f "$apt/$tarball" ] || { cat "$apt/source.log" >&2; exit 1; }
verify "$apt/$tarball"
mv "$apt/$tarball" "$out"
