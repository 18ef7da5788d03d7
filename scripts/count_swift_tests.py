#!/usr/bin/env python3
"""Counts the tests of one `swift test` run from Swift Testing's event stream (JSON lines,
`swift test --event-stream-output-path FILE --event-stream-version 0`), one test function at a
time: a parameterised test is one test, however many cases it has.

A test is skipped when the stream says so (its reason is printed), failed when an issue that is
not a known issue was recorded against it or it never ended (a crash), passed otherwise. Issues
recorded against a suite (its set-up threw) count as one failure of that suite.

    count_swift_tests.py EVENTS.jsonl [--allowed-skip PREFIX ...]

A skip whose reason does not start with an allowed prefix is listed as not allowed: scripts/test.sh
turns those into failures under CI, where the set-up has installed everything the tests need.
Prints the skipped and failing tests, then a last line `COUNTS passed failed skipped disallowed`.
"""
import argparse
import json
import re
import sys


def reason_of(messages):
    for m in messages:
        # 'Test name() skipped: "reason"' or 'Test name() skipped.'
        head, sep, reason = m.get("text", "").rpartition(' skipped: "')
        if sep:
            return reason.rstrip('."') or "no reason given"
    return "no reason given"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("events")
    parser.add_argument("--allowed-skip", action="append", default=[])
    args = parser.parse_args()

    functions, suites, announced = {}, set(), None
    skipped, ended, issues, suite_issues = {}, set(), {}, {}
    try:
        # One record per "\n": str.splitlines() would also cut at U+2028, U+0085 and the like,
        # which test arguments (tokenizer strings) can carry inside a JSON string.
        lines = open(args.events, encoding="utf-8", newline="").read().split("\n")
    except OSError as error:
        print(f"count_swift_tests: cannot read {args.events}: {error}")
        print("COUNTS 0 1 0 0")
        return
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        payload = record.get("payload", {})
        if record.get("kind") == "test":
            if payload.get("kind") == "function":
                functions[payload["id"]] = payload.get("name", payload["id"])
            else:
                suites.add(payload["id"])
            continue
        kind, test_id = payload.get("kind"), payload.get("testID")
        if kind == "runEnded":
            for m in payload.get("messages", []):
                found = re.search(r"Test run with (\d+) tests?", m.get("text", ""))
                if found:
                    announced = int(found.group(1))
        if kind == "testSkipped" and test_id:
            skipped[test_id] = reason_of(payload.get("messages", []))
        elif kind == "testEnded" and test_id:
            ended.add(test_id)
        elif kind == "issueRecorded" and test_id and not payload.get("issue", {}).get("isKnown", False):
            text = "; ".join(m.get("text", "") for m in payload.get("messages", []))
            target = issues if test_id in functions or "/" in test_id else suite_issues
            target.setdefault(test_id, []).append(text)

    passed = failed = disallowed = 0
    skip_lines, fail_lines = [], []
    for test_id in sorted(functions):
        if test_id in skipped:
            reason = skipped[test_id]
            allowed = any(reason.startswith(p) for p in args.allowed_skip)
            disallowed += 0 if allowed else 1
            skip_lines.append(f"  {test_id}: {reason}{'' if allowed else '  [not allowed here]'}")
        elif test_id in issues:
            failed += 1
            fail_lines.append(f"  {test_id}: {issues[test_id][0][:200]}")
        elif test_id not in ended:
            failed += 1
            fail_lines.append(f"  {test_id}: never ended (crash or hang)")
        else:
            passed += 1
    for suite_id, texts in sorted(suite_issues.items()):
        failed += 1
        fail_lines.append(f"  suite {suite_id}: {texts[0][:200]}")
    skipped_count = sum(1 for t in functions if t in skipped)
    # Swift Testing's own closing count must equal what was read here, or records were lost.
    if announced is not None and announced != len(functions):
        failed += 1
        fail_lines.append(f"  the run announced {announced} tests but the event stream has {len(functions)}")
    if skip_lines:
        print(f"skipped tests ({skipped_count}):")
        print("\n".join(skip_lines))
    if fail_lines:
        print(f"failing tests ({failed}):")
        print("\n".join(fail_lines))
    print(f"swift test: {passed} passed, {failed} failed, {skipped_count} skipped")
    print(f"COUNTS {passed} {failed} {skipped_count} {disallowed}")


if __name__ == "__main__":
    sys.exit(main())
