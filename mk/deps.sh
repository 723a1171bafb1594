#!/bin/sh
# deps.sh install|check PACKAGE...: install (root) or name the missing
# Debian packages.  `check` installs too when run as root, so that `make run`
# and `make test` work on a fresh machine with no separate step.
mode=$1; shift
missing=
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >/tmp/opentracker-p4p-deps.log 2>&1 || {
    echo "deps: apt-get failed, see /tmp/opentracker-p4p-deps.log" >&2; tail -5 /tmp/opentracker-p4p-deps.log >&2; exit 1; }
  exit 0
fi
echo "deps: missing Debian packages:$missing" >&2
echo "deps: run as root: apt-get install -y$missing" >&2
[ "$mode" = check ] && exit 1
exit 1
