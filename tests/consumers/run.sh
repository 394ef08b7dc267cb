#!/usr/bin/env bash
# Installs ossl into a temporary prefix and builds + runs tests/consumers/handshake.cpp
# three ways against it: CMake find_package(ossl CONFIG), pkg-config with a plain
# compiler line, and a Meson project using ossl as a subproject.
#   tests/consumers/run.sh [shared|static]
# Prints one line per consumer and a final "consumers (KIND): N passed, N failed";
# adds the counts to $OSSL_TALLY when set. Exits non-zero on any failure.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
kind=${1:-shared}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
log=$tmp/log
passed=0
failed=0
record() {  # record NAME STATUS
  if [ "$2" -eq 0 ]; then
    echo "consumer $1 ($kind): passed" >&2
    passed=$((passed + 1))
  else
    echo "consumer $1 ($kind): FAILED; its log:" >&2
    tail -n 40 "$log" >&2
    failed=$((failed + 1))
  fi
}
finish() {
  echo "consumers ($kind): $passed passed, $failed failed" >&2
  [ -n "${OSSL_TALLY:-}" ] && echo "$passed $failed" >>"$OSSL_TALLY"
  [ "$failed" -eq 0 ]
  exit $?
}

if ! { meson setup "$tmp/build" "$src" --prefix="$prefix" -Ddefault_library="$kind" \
  -Dtests=false -Dexamples=false -Dbench=false && ninja -C "$tmp/build" &&
  meson install -C "$tmp/build"; } >"$log" 2>&1; then
  record install 1
  failed=3
  finish
fi
pcdir=$(dirname "$(find "$prefix" -name ossl.pc | head -n 1)")
libdir=$(dirname "$pcdir")
static_flag=()
[ "$kind" = static ] && static_flag=(--static)

# 0. A shared library exports the ossl namespace only, with a sane soname.
if [ "$kind" = shared ]; then
  {
    so=$(find "$libdir" -name 'libossl.so.*.*.*' | head -n 1)
    readelf -d "$so" | grep -q 'SONAME.*\[libossl\.so\.0\]' || { echo "bad soname in $so"; false; }
    stray=$(nm -D --defined-only "$so" | c++filt | cut -d' ' -f3- |
      grep -vE '^(ossl::|typeinfo for ossl::|typeinfo name for ossl::|vtable for ossl::)')
    echo "exported: $(nm -D --defined-only "$so" | wc -l) symbols"
    [ -z "$stray" ] || { echo "exported outside namespace ossl:"; echo "$stray" | head -n 20; false; }
  } >"$log" 2>&1
  record exports $?
fi

# 1. CMake: find_package(ossl CONFIG REQUIRED), target ossl::ossl.
{ cmake -S "$src/tests/consumers/cmake" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" &&
  cmake --build "$tmp/cmake" && LD_LIBRARY_PATH="$libdir" "$tmp/cmake/consumer"; } >"$log" 2>&1
record cmake $?

# 2. pkg-config and a plain compiler line.
{ flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config "${static_flag[@]}" --cflags --libs ossl) &&
  echo "g++ -std=c++20 handshake.cpp $flags" &&
  g++ -std=c++20 "$src/tests/consumers/handshake.cpp" $flags -o "$tmp/pc-consumer" &&
  LD_LIBRARY_PATH="$libdir" "$tmp/pc-consumer"; } >"$log" 2>&1
record pkg-config $?

# 3. A Meson project with ossl as a subproject (a copy of the sources it needs).
proj=$tmp/meson-project
mkdir -p "$proj/subprojects/ossl"
cp "$src/tests/consumers/meson/meson.build" "$src/tests/consumers/handshake.cpp" "$proj/"
cp -r "$src/meson.build" "$src/meson_options.txt" "$src/include" "$src/src" "$proj/subprojects/ossl/"
{ meson setup "$proj/build" "$proj" -Ddefault_library="$kind" && ninja -C "$proj/build" &&
  "$proj/build/consumer"; } >"$log" 2>&1
record meson-subproject $?
finish
