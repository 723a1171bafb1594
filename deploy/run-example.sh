#!/bin/sh
# run-example.sh BUILD_DIR: start opentracker-p4p with the bundled example
# P4P setup on localhost, in the foreground (Ctrl-C stops it).
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
conf="$here/example/opentracker.conf"
port=$(awk '/^listen.tcp_udp 127/{split($2, a, ":"); print a[2]; exit}' "$conf")

cat <<MSG
opentracker-p4p with the example P4P setup ($here/example):
  PID map   pidmap.xml: 127.0.1.0/24 and ::1 in pid-a, 127.0.2-4.0/24 in pid-b..d
  guidance  guidance.xml: default matrix + one per-swarm matrix
  announce  http://127.0.0.1:$port/announce   udp://127.0.0.1:$port   (also [::1]:$port)
  P4P stats http://127.0.0.1:$port/stats?mode=p4p
  reload    kill -HUP <pid> after editing the XML files
Ctrl-C stops it.
MSG
exec "$build/opentracker-p4p" -f "$conf"
