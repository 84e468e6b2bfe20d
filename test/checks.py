"""The harness of the suite's Python checks (test/clients/partial.py,
test/examples/run.py, test/replica/standby.py): each check prints one line,
"LABEL NAME: ok" or "LABEL NAME: FAILED (why)", which test/run-tests counts;
a failed setup is one FAILED line too, and no check runs.

    checks = Checks('client')

    @checks.check('what it proves')
    def _():
        expect(cond, 'what must hold', got)

    sys.exit(checks.main(setup))
"""
import sys
import traceback


def expect(cond, what, got=None):
    """Fail the check with what must hold (and what was got) unless cond."""
    if not cond:
        raise AssertionError(what + ('' if got is None else f'; got {got!r}'))


def _why(e):
    return str(e).strip().replace('\n', ' | ') or type(e).__name__


class Checks:
    def __init__(self, label):
        self.label = label
        self.checks = []    # (name, function), in the order added

    def add(self, name, fn):
        self.checks.append((name, fn))

    def check(self, name):
        """Decorator: the function is check NAME."""
        def register(fn):
            self.add(name, fn)
            return fn
        return register

    def run(self, name, fn):
        """Run one check and print its line; true when it passed."""
        try:
            fn()
            print(f'{self.label} {name}: ok', flush=True)
            return True
        except Exception as e:  # an assertion, or a driver's error
            print(f'{self.label} {name}: FAILED ({_why(e)})', flush=True)
            traceback.print_exc(file=sys.stderr)
            return False

    def main(self, setup=None):
        """setup (a FAILED line only if it fails: it is no check), then
        every check; the exit status: 0 when all passed."""
        if setup is not None:
            try:
                setup()
            except Exception as e:
                print(f'{self.label} setup: FAILED ({_why(e)})', flush=True)
                traceback.print_exc(file=sys.stderr)
                return 1
        passed = [self.run(name, fn) for name, fn in self.checks]
        return 0 if all(passed) else 1
