# Sourced by the tests that print one line per check and count them
# (tests/packaging/run, tests/prometheus/run).
#   check NAME COMMAND...   runs COMMAND, prints "PASS  NAME" or "FAIL  NAME"
#                           and its output below, indented; counts it in
#                           $passed or $failed. The output goes through the
#                           file $check_log, which the caller names.
passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@" >"$check_log" 2>&1; then
    echo "PASS  $name"
    passed=$((passed + 1))
  else
    echo "FAIL  $name"
    failed=$((failed + 1))
  fi
  sed 's/^/      /' "$check_log"
}
