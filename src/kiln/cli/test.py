"""`kiln test`: build the matched tests and run them as actions (kiln.cli.test_actions), report each one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kiln.cli.options import Invocation
from kiln.cli.session import Session
from kiln.cli.test_actions import EXIT_TIMEOUT, flaky_attempts, test_actions
from kiln.core.errors import ExitCode
from kiln.execution.events import TestFinished
from kiln.loading.test_suites import expand_tests


def tests_of(loader, targets: list) -> list:
    """Test rules among `targets`, with test_suites replaced by the tests they name."""
    return list(expand_tests(
        targets,
        listed=lambda suite: [loader.get_target(l, needed_by=str(suite.label)) for l in suite.attrs.get("tests") or ()],
        package_tests=lambda suite: loader.load_package(suite.label.package_id).rules(),
    ).values())


def run(inv: Invocation, cwd: Path) -> int:
    session = Session(inv, cwd)
    opts = session.opts
    patterns = inv.options.residue + inv.options.after_dashdash
    if not patterns:
        session.events.warning("Usage: kiln test <options> <targets>. Your request requested nothing to test.")
        session.events.error("No test targets were found, yet testing was requested")
        return ExitCode.NO_TESTS_FOUND
    plan, failed = session.plan("test", patterns, expand_tests=tests_of)
    tests = plan.tests
    runs, writes = test_actions(tests, opts, plan.config, plan.repo_mapping, dict(os.environ))
    attempts = flaky_attempts(opts, tests)
    execroot = session.output_base.execroot

    def archive(action, attempt: int) -> None:
        """Bazel keeps each failed attempt's log and report as test_attempts/attempt_<n>.{log,xml}."""
        log, xml = (execroot / o.exec_path for o in action.outputs[:2])
        kept = log.parent / "test_attempts"
        kept.mkdir(exist_ok=True)
        for src, ext in ((log, "log"), (xml, "xml")):
            if src.exists():
                shutil.copyfile(src, kept / f"attempt_{attempt}.{ext}")

    result = session.execute(
        plan, extra_actions=writes + [r.action for r in runs],
        extra_wanted=[o for r in runs for o in r.action.outputs],
        scheduler_options={"test_attempts": lambda action: attempts(str(action.owner)), "archive_attempt": archive})
    result.failed_targets |= failed
    result.ok = result.ok and not failed and not session.pattern_errors
    session.finish(result, show_outputs=False)
    if not tests and not failed and not plan.skipped_tests:
        session.reporter.stop_live()
        session.events.error("No test targets were found, yet testing was requested")
        return ExitCode.NO_TESTS_FOUND if result.ok else ExitCode.BUILD_FAILURE

    results: list[TestFinished] = [TestFinished(str(label), "FAILED TO BUILD", False, 0.0, "")
                                   for label in sorted(failed)]
    # Incompatible with the target platform, matched by a wildcard: listed, not run.
    results.extend(TestFinished(str(label), "SKIPPED", False, 0.0, "") for label in plan.skipped_tests)
    outcome = result.outcome
    by_target: dict = {}
    for r in runs:
        by_target.setdefault(r.target.label, []).append(r)
    for label, target_runs in by_target.items():
        ended = [(r, outcome.tests.get(r.action)) for r in target_runs]
        if label in result.failed_targets or any(t is None for _, t in ended):
            results.append(TestFinished(str(label), "FAILED TO BUILD", False, 0.0, ""))
            continue
        event = _finished(session, label, ended)
        session.events.post(event)
        results.append(event)
    session.reporter.report_tests(results)
    if not result.ok and any(r.status == "FAILED TO BUILD" for r in results):
        return ExitCode.BUILD_FAILURE
    if all(r.status in ("PASSED", "SKIPPED") or r.status.startswith("FLAKY") for r in results):
        return ExitCode.SUCCESS if result.ok else ExitCode.BUILD_FAILURE
    return ExitCode.TESTS_FAILED


def _finished(session: Session, label, ended: list) -> TestFinished:
    """One line of the summary for a test, from its runs (several with --runs_per_test)."""
    failing = [(r, t) for r, t in ended if t.exit_code != 0 or t.error]
    shown_run, shown = failing[0] if failing else ended[0]
    if shown.error:
        session.events.error(shown.error)
    if not failing:
        flaky = [t for _, t in ended if t.failed_attempts]
        status = "PASSED"
        if flaky:
            status = f"FLAKY, failed in {flaky[0].failed_attempts} out of {flaky[0].failed_attempts + 1}"
    elif shown.exit_code == EXIT_TIMEOUT:
        status = "TIMEOUT"
    else:
        status = "FAILED"
    if len(ended) > 1 and failing:
        status += f" in {len(failing)} out of {len(ended)}"
    log = session.output_base.execroot / shown_run.log.exec_path
    display = f"{session.opts.symlink_prefix}testlogs/{shown_run.log_dir}/test.log"
    return TestFinished(str(label), status, all(t.cached for _, t in ended), max(t.seconds for _, t in ended),
                        display, _shown(log, session.max_shown))


def _shown(log: Path, max_shown: int) -> str:
    """What the terminal shows of a test log: at most --experimental_ui_max_stdouterr_bytes of it."""
    try:
        size = os.path.getsize(log)
    except FileNotFoundError:
        return ""
    with open(log, "rb") as f:
        data = f.read(size if max_shown < 0 else min(size, max_shown))
    text = data.decode("utf-8", "replace")
    if len(data) < size:
        text = (text.rstrip("\n") + f"\n... (output truncated: {len(data)} of {size} bytes shown; "
                f"the whole log is {log})")
    return text
