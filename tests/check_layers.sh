#!/bin/bash
# check_layers.sh BUILD_DIR: the library layering holds (docs/HACKING.md).
#   - every symbol a library exports carries its prefix;
#   - the tracker links neither GLPK nor provider (optimizer) code;
#   - each folder includes only what its layer may use (the simulator only
#     p4p/p4p.h of the tracker module).
# Prints every violation; exits 1 if there is any.
set -u
build=$1
fail=0
bad() { echo "layering: $*"; fail=1; }

# library archive -> the prefix of everything it exports
for lib in libp4p.a:p4p_ libp4pproto.a:proto_ libp4pprovider.a:prov_; do
  a=$build/${lib%%:*} prefix=${lib##*:}
  [ -f "$a" ] || { bad "$a missing"; continue; }
  # (__odr_asan.*: the ODR markers ASan adds for our globals in build/san)
  syms=$(nm -g --defined-only "$a" | awk 'NF == 3 && $2 != "V" && $2 != "W" {print $3}' | grep -v "^$prefix" | grep -v '^__odr_asan\.' | sort -u)
  [ -z "$syms" ] || bad "$(basename "$a") exports names without '$prefix':" $syms
done

# the tracker: no GLPK, no provider library, neither linked nor loaded
t=$build/opentracker-p4p
if [ -f "$t" ]; then
  readelf -d "$t" | grep -q 'NEEDED.*libglpk' && bad "$t needs libglpk"
  n=$(nm "$t" | awk '$2 ~ /^[TtDdBbRr]$/ && ($3 ~ /^prov_/ || $3 ~ /^glp_/) {print $3}' | head -5)
  [ -z "$n" ] || bad "$t contains provider or GLPK code:" $n
else
  bad "$t missing"
fi

# includes: "dir/header.h" across folders; a folder's own headers by name
includes() { grep -hoE '^#include "[^"]+"' "$@" 2>/dev/null | sed 's/#include "\(.*\)"/\1/' | sort -u; }
check_dir() { # folder, allowed pattern (egrep) for cross-folder includes
  local dir=$1 allow=$2 f inc
  for f in "$dir"/*.[ch]; do
    [ -f "$f" ] || continue
    for inc in $(includes "$f"); do
      case $inc in */*) echo "$inc" | grep -qE "^($allow)$" || bad "$f includes $inc" ;;
                   *) [ -f "$dir/$inc" ] || [ "$dir" != "${dir#bench}" ] || bad "$f includes $inc, not a header of $dir/" ;; esac
    done
  done
}
check_dir proto    'NONE'
check_dir provider 'proto/[a-z_]+\.h'
check_dir p4p      'proto/[a-z_]+\.h'
check_dir itracker 'proto/[a-z_]+\.h|provider/[a-z_]+\.h'
# the simulator drives the tracker module as upstream's code does: through
# p4p.h alone (unit tests in tests/unit may reach internals)
check_dir sim      'p4p/p4p\.h|proto/[a-z_]+\.h|provider/[a-z_]+\.h'
# upstream's code, as patched, sees only the module's public header of ours
ours=$(cd "$(dirname "$0")/.." && ls p4p/*.h proto/*.h provider/*.h | xargs -n1 basename | grep -v '^p4p\.h$')
for inc in $(grep -h '^+#include "' patches/*.patch | sed 's/^+#include "\(.*\)"/\1/' | sort -u); do
  case $inc in */*) bad "patches include $inc" ;; esac
  echo "$ours" | grep -qx "$inc" && bad "patches include $inc (only p4p.h of ours)"
done
exit $fail
