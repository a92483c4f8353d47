"""`kiln run //pkg:bin -- args`: build one executable, then run it attached to the terminal."""

from __future__ import annotations

import os
from pathlib import Path

from kiln.cli import run_memo
from kiln.cli.options import Invocation
from kiln.cli.session import Session
from kiln.core.digests import Digest
from kiln.core.errors import CommandLineError, ExitCode
from kiln.core.providers import RunEnvironmentInfo


def run(inv: Invocation, cwd: Path) -> int | run_memo.Launch:
    session = Session(inv, cwd)
    # This command's memo, if any, did not hold (kiln.cli.run_memo): a successful build writes a new one.
    run_memo.forget(list(inv.argv), str(cwd))
    words = inv.options.residue
    if len(words) != 1:
        raise CommandLineError(
            "kiln run needs exactly one target; put the program's arguments after '--' "
            f"(got {len(words)} target words: {' '.join(words) or 'none'})"
        )
    plan, _ = session.plan("run", words)
    if len(plan.top) != 1:
        raise CommandLineError(f"'{words[0]}' matches {len(plan.top)} targets; kiln run needs exactly one")
    top = plan.top[0]
    exe = top.executable
    if exe is None:
        raise CommandLineError(f"Cannot run target {top.label}: Not executable ({top.rule_kind} targets cannot be run)")
    result = session.execute(plan)
    session.finish(result, show_outputs=False)
    if not result.ok:
        return ExitCode.BUILD_FAILURE
    run_env = top.run_env or RunEnvironmentInfo()
    program = session.output_path(exe, plan)
    runfiles = str(program) + ".runfiles"
    program_env = {**dict(run_env.environment), "RUNFILES_DIR": runfiles,
                   "BUILD_WORKSPACE_DIRECTORY": str(session.workspace.root)}
    checks = memo_checks(session, plan, top, cwd)
    if checks is not None:
        run_memo.remember(list(inv.argv), str(cwd), checks, lock=str(session.output_base.root / "lock"),
                          program=str(program), args=list(run_env.args), run_cwd=os.path.join(runfiles, "_main"),
                          env=program_env, warnings=list(inv.rc.warnings))
    env = dict(os.environ)
    env.update(program_env)
    env["BUILD_WORKING_DIRECTORY"] = str(cwd)
    argv = [str(program), *run_env.args, *inv.options.after_dashdash]
    # As Bazel: a long-running program does not keep other commands waiting.
    session.lock.release()
    # The program replaces kiln (as `bazel run` execs it), from its runfiles tree, as under Bazel.
    return run_memo.Launch(str(program), argv, os.path.join(runfiles, "_main"), env, f"{top.label} ({program})")

def memo_checks(session: Session, plan, top, cwd: Path) -> list[tuple[str, int, tuple | None]] | None:
    """What kiln.cli.run_memo checks before running `top` again without a build; None if a stamp
    cannot vouch for its build (a source directory input, a directory output, an action that must
    always run) or a record is missing."""
    from kiln.execution.runfiles_tree import STAMP_FILE, tree_path
    from kiln.loading.workspace import WORKSPACE_MARKERS

    STAT, BLOB, stamp = run_memo.STAT, run_memo.BLOB, run_memo.stamp
    cache, key = session.saved_plan
    deps = cache.dependencies(key)
    if deps is None:
        return None
    checks = [(p, STAT, saved) for p, saved in deps]
    checks += [(p, STAT, saved) for p, saved in session.inv.rc.looked_at]
    root = session.workspace.root.resolve()
    for d in (cwd.resolve(), *cwd.resolve().parents):
        checks += [(str(d / m), STAT, stamp(str(d / m))) for m in WORKSPACE_MARKERS]
        if d == root:
            break
    generating = session.generating
    sources = session.sources(plan)
    execroot = str(session.output_base.execroot)
    pending = [*top.files, top.executable, *top.runfiles.artifacts()]
    seen = set()
    while pending:
        art = pending.pop()
        if art in seen:
            continue
        seen.add(art)
        if art.is_directory:
            return None
        if art.is_source:
            path = sources.path(art)
            # The stamp it was hashed under; a runfile no action reads matters by its presence only.
            checks.append((path, STAT, session.file_digests.stamp(path) or stamp(path)))
            continue
        entry = session.materialized.stamps(art.exec_path)
        action = generating.get(art)
        if entry is None or action is None:
            return None
        if action.requirement("no-cache") is not None:
            return None  # the normal path runs it every time
        output, blob, digest_hash, executable = entry
        checks.append((f"{execroot}/{art.exec_path}", STAT, output))
        checks.append((session.cas.path(Digest(digest_hash, output[2]), executable), BLOB, blob))
        pending.extend(action.inputs.to_list())
        for tool, runfiles in action.tool_runfiles:
            pending.append(tool)
            pending.extend(runfiles.artifacts())
    tree = tree_path(session.output_base.execroot, top.executable) / STAMP_FILE
    checks.append((str(tree), STAT, stamp(str(tree))))
    return checks
