"""Tests as actions: one TestRunner action per test run, built like any other action.

A test run is an action whose inputs are the test executable with its
runfiles tree (and kiln's test wrapper, kiln/tools/test_setup.sh) and whose
outputs are Bazel's testlogs files: `testlogs/<pkg>/<name>/test.log`,
`test.xml` and `test.outputs/outputs.zip` (under `run_<k>_of_<n>/` with
--runs_per_test). It runs through the executor stack — sandboxed, cached by
the action cache and the disk cache, later remotely — with the test
environment Bazel sets, its machine-specific paths filled in by the wrapper
at run time so that the key holds none.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from kiln.cli.options import Options
from kiln.cli.plan import TopTarget
from kiln.core.actions import Action, ActionKind
from kiln.core.artifacts import Artifact, kiln_tool_artifact
from kiln.core.config import Configuration
from kiln.core.depset import Depset
from kiln.core.errors import CommandLineError
from kiln.core.providers import RunEnvironmentInfo
from kiln.core.runfiles import Runfiles

# How the test wrapper (kiln/tools/test_setup.sh) says a test ended; 0 is passed.
EXIT_FAILED = 1
EXIT_TIMEOUT = 124
# The wrapper zips undeclared outputs with kiln's interpreter, which the action's key names (salt).
_WRAPPER_SALT = f"test_setup.sh; zip with {sys.implementation.cache_tag}"
TIMEOUTS = {"short": 60, "moderate": 300, "long": 900, "eternal": 3600}
SIZE_TIMEOUTS = {"small": 60, "medium": 300, "large": 900, "enormous": 3600}
# The executor's own limit is a backstop behind the wrapper's, which writes the log's last words.
_TIMEOUT_GRACE = 30
_BASE_PATH = "/bin:/usr/bin:/usr/local/bin"


@dataclass(frozen=True)
class TestRunAction:
    target: TopTarget
    action: Action
    run: int       # 1-based
    runs: int
    log: Artifact
    # The run's directory under testlogs (`t/name` or `t/name/run_1_of_3`).
    log_dir: str


def test_actions(tests: list[TopTarget], opts: Options, config: Configuration,
                 repo_mapping: str, client_env: dict[str, str]) -> tuple[list[TestRunAction], list[Action]]:
    """The test runs of `tests`, and the file writes they need (each test's repo mapping)."""
    base_env = {"PATH": _BASE_PATH}
    for name, value in opts.test_env:
        value = client_env.get(name) if value is None else value
        if value is not None:
            base_env[name] = value
    runs_for = _per_test_setting(opts.runs_per_test, "runs_per_test")
    testlogs = f"{config.output_dir}/testlogs"
    runs: list[TestRunAction] = []
    writes: list[Action] = []
    for t in tests:
        label = t.label
        # An external repository's test logs under external/<repo>/, as its outputs are.
        package_dir = "/".join(p for p in (f"external/{label.repo}" if label.repo else "", label.package, label.name)
                               if p)
        mapping = Artifact(config.bin_dir, f"{package_dir}.repo_mapping", label)
        writes.append(Action(owner=label, mnemonic="RepoMappingManifest", progress_message="",
                             outputs=(mapping,), kind=ActionKind.WRITE, content=repo_mapping.encode()))
        runfiles = t.runfiles.merge(Runfiles(Depset((t.executable,)), root_symlinks=(("_repo_mapping", mapping),)))
        timeout = test_timeout(t, opts.test_timeout)
        run_env = t.run_env or RunEnvironmentInfo()
        env = dict(base_env)
        env.update({
            "TEST_TARGET": str(label),
            "TEST_BINARY": t.executable.short_path,
            "TEST_SIZE": t.size or "medium",
            "TEST_TIMEOUT": str(timeout),
            "TEST_WORKSPACE": "_main",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        if opts.test_filter:
            env["TESTBRIDGE_TEST_ONLY"] = opts.test_filter
        env.update(dict(run_env.environment))
        requirements = dict(t.requirements)
        n = runs_for(str(label))
        # Bazel's `auto`: a result is reused unless the test is asked to run more than once.
        if opts.cache_test_results == "no" or (opts.cache_test_results == "auto" and n > 1):
            requirements["no-cache"] = "1"
        for k in range(1, n + 1):
            log_dir = package_dir if n == 1 else f"{package_dir}/run_{k}_of_{n}"
            outs = tuple(Artifact(testlogs, f"{log_dir}/{name}", label)
                         for name in ("test.log", "test.xml", "test.outputs/outputs.zip"))
            argv = [
                "/bin/sh", kiln_tool_artifact("test_setup.sh").exec_path,
                f"--runfiles={t.executable.exec_path}.runfiles",
                f"--executable={t.executable.runfiles_path}",
                f"--log={outs[0].exec_path}", f"--xml={outs[1].exec_path}", f"--outputs_zip={outs[2].exec_path}",
                f"--label={label}", f"--timeout={timeout}", f"--zip_python={sys.executable}",
                *(["--tee"] if opts.test_output == "streamed" else []),
                "--", *run_env.args, *opts.test_arg,
            ]
            action = Action(
                owner=label, mnemonic="TestRunner",
                progress_message=f"Testing {label}" + (f" (run {k} of {n})" if n > 1 else ""),
                outputs=outs,
                inputs=Depset((kiln_tool_artifact("test_setup.sh"), kiln_tool_artifact("outputs_zip.py"))),
                argv=tuple(argv), env=tuple(sorted(env.items())),
                execution_requirements=tuple(sorted(requirements.items())),
                tool_runfiles=((t.executable, runfiles),),
                timeout=float(timeout + _TIMEOUT_GRACE), is_test=True, salt=_WRAPPER_SALT,
            )
            runs.append(TestRunAction(t, action, k, n, outs[0], log_dir))
    return runs, writes


def test_timeout(target: TopTarget, overrides: tuple | None) -> int:
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


def flaky_attempts(opts: Options, tests: list[TopTarget]):
    """--flaky_test_attempts: per test, how many attempts a failing run gets (`default`: 3 for a test
    marked flaky, else 1)."""
    flaky = {str(t.label) for t in tests if t.flaky}
    setting = _per_test_setting(opts.flaky_test_attempts, "flaky_test_attempts", default_value=None)

    def attempts(label: str) -> int:
        n = setting(label)
        return n if n is not None else (3 if label in flaky else 1)

    return attempts


def _per_test_setting(values: tuple[str, ...], flag: str, default_value: int | None = 1):
    """Bazel's `N`, `default` and `REGEX@N` values (the last matching one wins); a label -> count."""
    rules: list[tuple[re.Pattern | None, int | None]] = []
    for text in values:
        pattern, at, count = text.rpartition("@")
        try:
            n = None if count == "default" else int(count)
            regex = re.compile(pattern) if at else None
        except (ValueError, re.error) as e:
            raise CommandLineError(f"--{flag}={text}: expected N, default or REGEX@N ({e})") from None
        if n is not None and n < 1:
            raise CommandLineError(f"--{flag}={text}: the count must be at least 1")
        rules.append((regex, n))

    def setting(label: str) -> int | None:
        value = default_value
        for regex, n in rules:
            if regex is None or regex.search(label):
                value = default_value if n is None else n
        return value

    return setting
