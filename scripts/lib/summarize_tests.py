#!/usr/bin/env python3
"""Counts the individual test cases in a meson testlog.json (GoogleTest and
pytest output) and prints one closing line: "N passed, N failed, N skipped"."""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1]) as log:
    for line in log:
        entry = json.loads(line)
        out = entry.get("stdout", "") or ""
        gtest_ok = re.findall(r"^\[       OK \] ", out, re.M)
        gtest_fail = re.findall(r"^\[  FAILED  \] \S+ \(", out, re.M)
        gtest_skip = re.findall(r"^\[  SKIPPED \] \S+ \(", out, re.M)
        py = re.search(r"^=+ (.*) in [\d.]+s", out, re.M)
        if gtest_ok or gtest_fail or gtest_skip:
            passed += len(gtest_ok)
            failed += len(gtest_fail)
            skipped += len(gtest_skip)
        elif py:
            counts = dict((k, int(n)) for n, k in re.findall(r"(\d+) (\w+)", py.group(1)))
            passed += counts.get("passed", 0)
            failed += counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
            skipped += counts.get("skipped", 0)
        elif entry.get("result") == "OK":
            passed += 1
        elif entry.get("result") == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
