"""`kiln test`: build the matched tests, run them in parallel, report each one."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kiln.cli.options import Invocation
from kiln.cli.session import Session
from kiln.core.errors import CommandLineError, ExitCode
from kiln.core.providers import RunEnvironmentInfo
from kiln.execution.events import TestFinished
from kiln.execution.test_runner import SIZE_TIMEOUTS, TIMEOUTS, TestRunner, TestSpec
from kiln.loading.test_suites import expand_tests


def tests_of(loader, targets: list) -> list:
    """Test rules among `targets`, with test_suites replaced by the tests they name."""
    return list(expand_tests(
        targets,
        listed=lambda suite: [loader.get_target(l, needed_by=str(suite.label)) for l in suite.attrs.get("tests") or ()],
        package_tests=lambda suite: loader.load_package(suite.label.package_id).rules(),
    ).values())


def _timeout(target, overrides: tuple | None) -> int:
    explicit = target.timeout
    size = target.size or "medium"
    if explicit:
        if explicit not in TIMEOUTS:
            raise CommandLineError(f"{target.label}: invalid timeout '{explicit}'")
        index = list(TIMEOUTS).index(explicit)
    else:
        if size not in SIZE_TIMEOUTS:
            raise CommandLineError(f"{target.label}: invalid size '{size}'")
        index = list(SIZE_TIMEOUTS).index(size)
    if overrides:
        return int(overrides[index])
    return list(TIMEOUTS.values())[index]


def run(inv: Invocation, cwd: Path) -> int:
    session = Session(inv, cwd)
    opts = session.opts
    patterns = inv.options.residue + inv.options.after_dashdash
    if not patterns:
        session.events.warning("Usage: kiln test <options> <targets>. Your request requested nothing to test.")
        session.events.error("No test targets were found, yet testing was requested")
        return ExitCode.NO_TESTS_FOUND
    plan, failed = session.plan("test", patterns, expand_tests=tests_of)
    result = session.execute(plan)
    result.failed_targets |= failed
    result.ok = result.ok and not failed and not session.pattern_errors
    session.finish(result, show_outputs=False)
    tests = plan.tests
    if not tests and not failed and not plan.skipped_tests:
        session.reporter.stop_live()
        session.events.error("No test targets were found, yet testing was requested")
        return ExitCode.NO_TESTS_FOUND if result.ok else ExitCode.BUILD_FAILURE

    scheduler = session.scheduler
    execroot = session.output_base.execroot

    base_env = {"PATH": "/bin:/usr/bin:/usr/local/bin"}
    for name, value in opts.test_env:
        if value is None:
            value = os.environ.get(name)
        if value is not None:
            base_env[name] = value
    cache_mode = opts.cache_test_results
    runner = TestRunner(
        executor=session.executors.local.get(),
        mode=session.executors.isolation.mode_for("TestRunner"),
        sandbox_base=session.output_base.sandboxes,
        testlogs=execroot / plan.config.output_dir / "testlogs",
        cache_dir=session.output_base.test_cache,
        tmp=session.output_base.tmp,
        input_of=scheduler.input_of,
        test_filter=opts.test_filter,
        use_cache=cache_mode != "no",
        base_env=base_env,
        repo_mapping=plan.repo_mapping,
        max_shown=session.max_shown,
        keep_sandboxes=opts.sandbox_debug,
        stream=sys.stderr if opts.test_output == "streamed" else None,
    )
    results: list[TestFinished] = []
    specs = []
    for label in sorted(failed):
        results.append(TestFinished(str(label), "FAILED TO BUILD", False, 0.0, ""))
    # Incompatible with the target platform, matched by a wildcard: listed, not run.
    results.extend(TestFinished(str(label), "SKIPPED", False, 0.0, "") for label in plan.skipped_tests)
    for t in tests:
        if t.label in result.failed_targets:
            results.append(TestFinished(str(t.label), "FAILED TO BUILD", False, 0.0, ""))
            continue
        run_env = t.run_env or RunEnvironmentInfo()
        specs.append(TestSpec(
            str(t.label), t.label.package, t.label.name, t.executable, t.runfiles,
            t.size or "medium", _timeout(t, opts.test_timeout),
            tuple(run_env.args) + opts.test_arg, tuple(run_env.environment), t.requirements,
        ))

    def one(spec: TestSpec) -> TestFinished:
        r = runner.run(spec)
        log = session.display_path_for_log(spec)
        event = TestFinished(spec.label, r.status, r.cached, r.seconds, log, r.output)
        session.events.post(event)
        return event

    # Streamed output from several tests at once would interleave: run them one at a time.
    jobs = 1 if runner.stream else opts.jobs
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results.extend(pool.map(one, specs))
    session.reporter.report_tests(results)
    if not result.ok and any(r.status == "FAILED TO BUILD" for r in results):
        return ExitCode.BUILD_FAILURE
    if all(r.status in ("PASSED", "SKIPPED") for r in results):
        return ExitCode.SUCCESS if result.ok else ExitCode.BUILD_FAILURE
    return ExitCode.TESTS_FAILED
