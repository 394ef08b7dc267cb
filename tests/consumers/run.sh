#!/usr/bin/env bash
# Installs ossl into a temporary prefix (and again with --destdir, to check the file
# list) and builds + runs tests/consumers/handshake.cpp three ways against it, as a user
# outside the repo would (docs/README.md): CMake find_package(ossl CONFIG) through
# CMAKE_PREFIX_PATH, pkg-config through PKG_CONFIG_PATH with a plain compiler line (and
# an rpath or LD_LIBRARY_PATH to run), and a Meson project using ossl as a subproject.
#   tests/consumers/run.sh [shared|static|both]
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
  failed=7  # the install and every check after it
  finish
fi
pcdir=$(dirname "$(find "$prefix" -name ossl.pc | head -n 1)")
libdir=$(dirname "$pcdir")
static_flag=()
[ "$kind" = static ] && static_flag=(--static)

# 0. The install, staged again with --destdir, holds exactly: every public header of
# the source tree plus the generated version.hpp, the library files of this kind,
# ossl.pc and the CMake package. Nothing missing, nothing extra.
{
  stage=$tmp/stage
  ver=$(sed -n 's/^#define OSSL_VERSION_STRING "\(.*\)"/\1/p' "$tmp/build/include/ossl/version.hpp")
  lib=${libdir#"$prefix"/}
  {
    (cd "$src/include" && find ossl -name '*.hpp' | sed 's|^|include/|')
    echo include/ossl/version.hpp
    if [ "$kind" != static ]; then
      echo "$lib/libossl.so"
      echo "$lib/libossl.so.${ver%%.*}"
      echo "$lib/libossl.so.$ver"
    fi
    [ "$kind" != shared ] && echo "$lib/libossl.a"
    echo "$lib/pkgconfig/ossl.pc"
    echo "$lib/cmake/ossl/osslConfig.cmake"
    echo "$lib/cmake/ossl/osslConfigVersion.cmake"
  } | sort >"$tmp/expected"
  meson install -C "$tmp/build" --destdir "$stage" &&
    [ -d "$stage$prefix" ] &&
    (cd "$stage$prefix" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) >"$tmp/installed" &&
    echo "installed under the prefix ($(wc -l <"$tmp/installed") files):" &&
    cat "$tmp/installed" &&
    diff -u "$tmp/expected" "$tmp/installed"
} >"$log" 2>&1
record install-layout $?
[ -n "${OSSL_CONSUMERS_LIST:-}" ] && sed -n '/^installed under/,/^$/p' "$log" >&2

# 1. A shared library exports the ossl namespace only, with a sane soname.
if [ "$kind" != static ]; then
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

# The consumers are built the way docs/README.md ("Installing to a prefix of your own")
# tells a user to, from a copy outside the source tree, with nothing found by search:
# the libdir is the one the guide names (Meson's default on Debian: lib/<multiarch>), and
# no LD_LIBRARY_PATH is inherited.
outside=$tmp/outside
mkdir -p "$outside"
cp -r "$src/tests/consumers/cmake" "$src/tests/consumers/handshake.cpp" "$outside/"
guide_libdir=$prefix/lib/$(gcc -print-multiarch)
{ echo "the guide's libdir: $guide_libdir; ossl.pc installed in: $pcdir"
  [ "$guide_libdir" = "$libdir" ]; } >"$log" 2>&1
record libdir $?
unset LD_LIBRARY_PATH

# 2. CMake: find_package(ossl CONFIG REQUIRED) through CMAKE_PREFIX_PATH (CMake looks in
# lib/<multiarch>/cmake itself). The build tree's binary runs through CMake's build
# RPATH; installed with CMAKE_INSTALL_RPATH_USE_LINK_PATH, so does the installed one.
{ cmake -S "$outside/cmake" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_INSTALL_PREFIX="$tmp/cmake-app" -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON &&
  cmake --build "$tmp/cmake" && "$tmp/cmake/consumer" &&
  cmake --install "$tmp/cmake" && "$tmp/cmake-app/bin/consumer"; } >"$log" 2>&1
record cmake $?

# 3. pkg-config and a plain compiler line, with PKG_CONFIG_PATH=<libdir>/pkgconfig. A
# shared build needs the loader told where libossl.so.0 is: without it the program
# fails to start with the loader's "cannot open shared object file" (checked, as the
# guide says); with an rpath from `pkg-config --variable=libdir ossl`, or with
# LD_LIBRARY_PATH, it runs.
export PKG_CONFIG_PATH=$guide_libdir/pkgconfig
{ flags=$(pkg-config "${static_flag[@]}" --cflags --libs ossl) &&
  echo "g++ -std=c++20 handshake.cpp $flags" &&
  g++ -std=c++20 "$outside/handshake.cpp" $flags -o "$tmp/pc-consumer" &&
  if [ "$kind" = static ]; then "$tmp/pc-consumer"; else
    if "$tmp/pc-consumer" 2>"$tmp/no-path"; then
      echo "started without an rpath or LD_LIBRARY_PATH: the guide's warning is stale"; false
    else
      cat "$tmp/no-path" && grep -q 'libossl.so.0: cannot open shared object file' "$tmp/no-path"
    fi && LD_LIBRARY_PATH=$(pkg-config --variable=libdir ossl) "$tmp/pc-consumer" &&
      g++ -std=c++20 "$outside/handshake.cpp" $flags \
        -Wl,-rpath,"$(pkg-config --variable=libdir ossl)" -o "$tmp/pc-consumer-rpath" &&
      "$tmp/pc-consumer-rpath"
  fi; } >"$log" 2>&1
record pkg-config $?
unset PKG_CONFIG_PATH

# 4. A Meson project with ossl as a subproject (a copy of the sources it needs).
proj=$tmp/meson-project
mkdir -p "$proj/subprojects/ossl"
cp "$src/tests/consumers/meson/meson.build" "$src/tests/consumers/handshake.cpp" "$proj/"
cp -r "$src/meson.build" "$src/meson_options.txt" "$src/include" "$src/src" "$proj/subprojects/ossl/"
{ meson setup "$proj/build" "$proj" -Ddefault_library="$kind" && ninja -C "$proj/build" &&
  "$proj/build/consumer"; } >"$log" 2>&1
record meson-subproject $?
finish
