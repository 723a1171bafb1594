#!/bin/bash
# run-example.sh BUILD_DIR: the whole system on localhost: the bundled
# iTracker (Abilene example provider) and opentracker-p4p connected to it.
# Ctrl-C stops both.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
ex="$here/example"

"$build/p4p-itracker" -f "$ex/abilene-loopback.conf" -p 6671 &
itracker=$!
trap 'kill $itracker 2>/dev/null; wait $itracker 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/6671) 2>/dev/null && break
  kill -0 $itracker 2>/dev/null || { echo "run: the iTracker did not start" >&2; exit 1; }
  sleep 0.1
done

cat <<MSG

opentracker-p4p, connected to the bundled iTracker:
  iTracker   http://127.0.0.1:6671/p4p/v1/  (Abilene example provider, $ex/abilene-loopback.conf)
             try: curl -H 'Authorization: Bearer b751559216bc30cc2f069749861be9cf' http://127.0.0.1:6671/p4p/v1/pidmap
  tracker    http://127.0.0.1:6969/announce   udp://127.0.0.1:6969   (also [::1]:6969)
             peers announcing from 127.N.x.y are in the provider's PIDs (127.1/16 Atlanta,
             127.5/16 Indianapolis, ...: see the pid lines of abilene-loopback.conf)
  P4P stats  curl 'http://127.0.0.1:6969/stats?mode=p4p'
Ctrl-C stops both.

MSG
"$build/opentracker-p4p" -f "$ex/opentracker.conf"
