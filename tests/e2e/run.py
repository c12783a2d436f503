#!/usr/bin/python3
"""Run the end-to-end suite against one build.

    tests/e2e/run.py <bindir> [-k PATTERN]... [-v] [--keep]

<bindir> holds user-fcgi, user-worker and microshopctl (bin/ or build/san/bin/).
Starts the shared cluster (see harness.py), runs tests/e2e/test_*.py in a fixed
order (the disruptive failure tests last), stops everything it started, checks
every log for sanitizer reports, and prints as its last line

    e2e: N passed, N failed

Exit status 0 only when nothing failed. Logs are kept (path printed) when
something failed or with --keep.
"""

import argparse
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

ORDER = ["test_observability", "test_auth", "test_users", "test_hostile", "test_utf8", "test_events",
         "test_node_dropin", "test_products", "test_product_plans", "test_state_sql",
         "test_stand", "test_event_flow", "test_matrix",
         "test_failures"]


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        dt = time.monotonic() - self._t0
        if dt > 5:
            self.stream.writeln("    (slow: %s took %.1fs)" % (test.id(), dt))


def _sigterm(signum, frame):
    # KeyboardInterrupt, not SystemExit: unittest records any other exception
    # as the current test's error and goes on with the next test.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bindir")
    ap.add_argument("-k", action="append", default=[], help="only tests matching (unittest -k)")
    ap.add_argument("-v", action="store_true", help="verbose")
    ap.add_argument("--keep", action="store_true", help="keep the logs")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, _sigterm)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _sigterm)
    bindir = os.path.abspath(args.bindir)
    for b in ("user-fcgi", "user-worker", "microshopctl"):
        if not os.access(os.path.join(bindir, b), os.X_OK):
            print("e2e: %s/%s is missing (run make all san)" % (bindir, b))
            print("e2e: 0 passed, 1 failed")
            return 1
    harness.setup(bindir)
    print("e2e: binaries %s, logs %s" % (bindir, harness.workdir()), flush=True)

    loader = unittest.TestLoader()
    if args.k:
        loader.testNamePatterns = ["*%s*" % k if "*" not in k else k for k in args.k]
    names = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    names = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
    suite = unittest.TestSuite()
    for n in names:
        suite.addTests(loader.loadTestsFromName(n))

    t0 = time.monotonic()
    passed = failed = skipped = 0
    try:
        try:
            harness.cluster()
        except Exception as e:  # noqa: BLE001
            print("e2e: the cluster did not start: %s" % e, flush=True)
            failed = 1
        else:
            runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2 if args.v else 1,
                                             resultclass=Result, buffer=False)
            result = runner.run(suite)
            bad = set()
            for test, _ in result.failures + result.errors:
                bad.add(getattr(test, "test_case", test).id())  # a subTest counts for its test
            bad.update(t.id() for t in result.unexpectedSuccesses)
            failed = len(bad)
            skipped = len(result.skipped)
            passed = max(result.testsRun - failed - skipped, 0)
            if failed:
                main_cluster = harness._state.get("cluster")
                if main_cluster is not None and main_cluster.pool is not None:
                    print("---- last lines of the pool's stderr ----")
                    print(main_cluster.pool.log_tail(25))
    except KeyboardInterrupt:
        print("\ne2e: interrupted; stopping everything")
        failed += 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the teardown finish
        harness.teardown()

    bad, leaks = harness.sanitizer_findings()
    if bad:
        print("e2e: sanitizer reports in the logs:")
        for line in bad[:40]:
            print("  " + line)
        failed += 1
    if leaks:
        print("e2e: warning: LeakSanitizer reports (not counted as failures):")
        for line in leaks[:10]:
            print("  " + line)
    if failed or args.keep:
        print("e2e: logs kept in %s" % harness.workdir())
    else:
        harness.remove_workdir()
    print("e2e: %.1fs%s" % (time.monotonic() - t0, (", %d skipped" % skipped) if skipped else ""))
    print("e2e: %d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
