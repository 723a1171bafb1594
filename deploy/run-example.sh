#!/bin/bash
# run-example.sh BUILD_DIR: the whole system on localhost: the bundled
# iTracker (Abilene example provider) and opentracker-p4p connected to it.
#
# Ports: P4P_RUN_PORT (tracker, default 6969) and P4P_RUN_ITRACKER_PORT
# (default 6671).  A second run on the same ports refuses to start (the
# tracker binds with SO_REUSEPORT, so a second one would quietly take half
# of the connections and split the swarms): a lock per tracker port, and a
# probe of both ports for anything else listening there.
# Ctrl-C, or SIGTERM/SIGHUP to this script (make forwards SIGTERM), stops
# both daemons; so does either of them exiting.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
ex="$here/example"
port=${P4P_RUN_PORT:-6969}
iport=${P4P_RUN_ITRACKER_PORT:-6671}

in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

lock="$build/run-example.$port.lock"
exec 9>"$lock"
if ! flock -n 9; then
  echo "run: another 'make run' already runs on port $port (lock $lock); stop it first" >&2
  exit 1
fi
for hp in "127.0.0.1 $port" "::1 $port" "127.0.0.1 $iport"; do
  set -- $hp
  if in_use "$1" "$2"; then
    echo "run: something already listens on $1 port $2; stop it first (or set P4P_RUN_PORT / P4P_RUN_ITRACKER_PORT)" >&2
    exit 1
  fi
done

# the example config with this run's ports
run="$build/run"
mkdir -p "$run"
conf="$run/opentracker.conf"
sed -e "s/:6969\$/:$port/" -e "s#http://127.0.0.1:6671#http://127.0.0.1:$iport#" "$ex/opentracker.conf" > "$conf"
chmod 644 "$conf"

itracker= tracker=
stop() {
  trap - EXIT INT TERM HUP
  # the daemons must not keep the lock once they are gone
  for p in $tracker $itracker; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $tracker $itracker; do wait "$p" 2>/dev/null || true; done
}
trap 'stop' EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap 'stop; exit 129' HUP

# the daemons do not get the lock fd: it is this script's to hold
"$build/p4p-itracker" -f "$ex/abilene-loopback.conf" -p "$iport" 9>&- &
itracker=$!
for _ in $(seq 100); do
  in_use 127.0.0.1 "$iport" && break
  kill -0 "$itracker" 2>/dev/null || { echo "run: the iTracker did not start" >&2; exit 1; }
  sleep 0.1
done

"$build/opentracker-p4p" -f "$conf" 9>&- &
tracker=$!
for _ in $(seq 100); do
  in_use 127.0.0.1 "$port" && break
  kill -0 "$tracker" 2>/dev/null || { echo "run: the tracker did not start" >&2; exit 1; }
  sleep 0.1
done

# say "connected" only once the tracker uses the provider's data
state="not yet connected (see the provider lines of the P4P stats)"
for _ in $(seq 100); do
  if exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
    printf 'GET /stats?mode=p4p HTTP/1.0\r\n\r\n' >&3
    if grep -q '^provider abilene state: in use' <&3; then state="connected to the bundled iTracker"; exec 3<&-; break; fi
    exec 3<&-
  fi
  kill -0 "$tracker" 2>/dev/null || break
  sleep 0.1
done

cat <<MSG

opentracker-p4p, $state:
  iTracker   http://127.0.0.1:$iport/p4p/v1/  (Abilene example provider, $ex/abilene-loopback.conf)
             try: curl -H 'Authorization: Bearer b751559216bc30cc2f069749861be9cf' http://127.0.0.1:$iport/p4p/v1/pidmap
  tracker    http://127.0.0.1:$port/announce   udp://127.0.0.1:$port   (also [::1]:$port)
             peers announcing from 127.N.x.y are in the provider's PIDs (127.1/16 Atlanta,
             127.5/16 Indianapolis, ...: see the pid lines of abilene-loopback.conf)
             provider servers are off (p4p.capability_peers 0): the example's are made up
  P4P stats  curl 'http://127.0.0.1:$port/stats?mode=p4p'   (also mode=prometheus, mode=p4p_dump)
  metrics    curl -H 'Authorization: Bearer 3c9e1b7f55a04d2e8b6a0f1d2c3e4f5a' http://127.0.0.1:$iport/metrics
Ctrl-C stops both.

MSG
# either daemon ending ends the run (and stops the other)
set +e
wait -n "$itracker" "$tracker"
rc=$?
echo "run: a daemon exited (status $rc); stopping" >&2
exit 1
