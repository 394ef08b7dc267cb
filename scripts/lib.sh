# Shared by scripts/test, scripts/demo and .ci/run. Source it; do not run it.

# ensure_packages PKG...: installs the Debian packages that are missing (as root,
# running apt-get update once first). Prints what it installs.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing packages (${missing[*]}); run as root or install them" >&2
    return 1
  fi
  if [ -z "${OSSL_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    export OSSL_APT_UPDATED=1
  fi
  # Packages such as nginx start a system service when installed; the tests run their
  # own instances instead, so forbid service starts during the install.
  local policy=/usr/sbin/policy-rc.d created=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || rc=$?
  [ -n "$created" ] && rm -f "$policy"
  return $rc
}

# configure DIR [meson options...]: sets up (or reconfigures) a build directory. In CI
# (CI=true) warnings are errors: -Werror is CI's choice, not a default of the project.
configure() {
  local dir=$1
  shift
  local werror=()
  [ "${CI:-}" = true ] && werror=(-Dwerror=true)
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "${werror[@]}" "$@" >/dev/null
  else
    meson setup "$dir" "${werror[@]}" "$@" >/dev/null
  fi
}

# run_suites LABEL DIR [WRAPPER...]: runs every doctest binary in DIR/tests (through
# WRAPPER, e.g. valgrind), counts doctest test cases, prints a summary line, and adds
# the counts to $OSSL_TALLY (a file of "passed failed" lines) when set. A binary that
# dies without doctest's summary counts as one failed case. Returns 1 on any failure.
run_suites() {
  local label=$1 dir=$2
  shift 2
  local passed=0 failed=0 log summary p f
  log=$(mktemp)
  for exe in "$dir"/tests/*_test; do
    [ -x "$exe" ] || continue
    # OSSL_EXCLUDE: space-separated suite names this stage does not run.
    case " ${OSSL_EXCLUDE:-} " in *" $(basename "$exe") "*) continue ;; esac
    # OSSL_ONLY: when set, the only suites this stage runs.
    if [ -n "${OSSL_ONLY:-}" ]; then
      case " $OSSL_ONLY " in *" $(basename "$exe") "*) ;; *) continue ;; esac
    fi
    local rc=0 began=$SECONDS
    timeout 900 "$@" "$exe" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
      echo "---- $label: $(basename "$exe") exited with $rc; its output:" >&2
      tail -n 80 "$log" >&2
    fi
    summary=$(grep -E '^\[doctest\] test cases:' "$log" | tail -n 1)
    if [ -z "$summary" ]; then
      failed=$((failed + 1))
      echo "---- $label: $(basename "$exe") ended without a doctest summary" >&2
      continue
    fi
    p=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$summary")
    f=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$summary")
    # A non-zero exit after a clean summary is a failure found at exit (a leak report,
    # a valgrind error): count it as one failed case.
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    # OSSL_SUITE_LINES=1: a line per suite as it ends (scripts/test, for a person waiting).
    if [ -n "${OSSL_SUITE_LINES:-}" ]; then
      echo "  $(basename "$exe"): $p passed, $f failed ($((SECONDS - began)) s)" >&2
    fi
    passed=$((passed + p))
    failed=$((failed + f))
  done
  rm -f "$log"
  echo "$label: $passed passed, $failed failed" >&2
  [ -n "${OSSL_TALLY:-}" ] && echo "$passed $failed" >>"$OSSL_TALLY"
  [ "$failed" -eq 0 ]
}
