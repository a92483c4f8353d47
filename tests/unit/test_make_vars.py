"""Tests for kiln.rules.common.make_vars: Bazel "Make" variable and location expansion."""

from __future__ import annotations

import pytest

from kiln.core.errors import KilnError
from kiln.core.labels import Label, PackageId
from kiln.rules.common.make_vars import (
    MakeVarError,
    NotAvailable,
    PathsOf,
    expand,
    genrule_variables,
    package_output_dir,
)

BIN = "kiln-out/k8-fastbuild/bin"
PKG = PackageId("", "pkg")
EXTERNAL = "repo+"  # canonical name; the rule's repo mapping calls it "repo"


def _main_file(path: str) -> tuple[str, str, str]:
    return (path, path, f"_main/{path}")


def _paths(*files: tuple[str, str, str]) -> PathsOf:
    return PathsOf(
        exec_paths=tuple(f[0] for f in files),
        root_paths=tuple(f[1] for f in files),
        rlocation_paths=tuple(f[2] for f in files),
    )


LOCATIONS = {
    Label("", "pkg", "a.txt"): _paths(_main_file("pkg/a.txt")),
    Label("", "pkg", "gen.txt"): _paths((f"{BIN}/pkg/gen.txt", "pkg/gen.txt", "_main/pkg/gen.txt")),
    # Given out of order and with a duplicate: plural forms sort and dedupe.
    Label("", "pkg", "group"): _paths(_main_file("pkg/c.txt"), _main_file("pkg/b.txt"), _main_file("pkg/c.txt")),
    Label("", "tools", "tool"): _paths((f"{BIN}/tools/tool", "tools/tool", "_main/tools/tool")),
    Label(EXTERNAL, "lib", "data.txt"): _paths(
        (f"external/{EXTERNAL}/lib/data.txt", f"../{EXTERNAL}/lib/data.txt", f"{EXTERNAL}/lib/data.txt")
    ),
    Label("", "pkg", "empty"): _paths(),
    Label("", "pkg", "spaced"): _paths(_main_file("pkg/my file.txt")),
    Label("", "pkg", "quoted"): _paths(_main_file("pkg/it's.txt")),
    Label("", "", "top.txt"): _paths(_main_file("top.txt")),
}


def run(template: str, *, variables=None, location_means="execpath", attribute="cmd", package=PKG) -> str:
    return expand(
        template,
        package=package,
        attribute=attribute,
        locations=LOCATIONS,
        variables=variables or {},
        location_means=location_means,
        repo_mapping={"repo": EXTERNAL},
    )


def error_of(template: str, **kwargs) -> MakeVarError:
    with pytest.raises(MakeVarError) as info:
        run(template, **kwargs)
    return info.value


# --- location functions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "location_means", "expected"),
    [
        ("execpath", "execpath", f"{BIN}/pkg/gen.txt"),
        ("execpath", "rootpath", f"{BIN}/pkg/gen.txt"),
        ("rootpath", "execpath", "pkg/gen.txt"),
        ("rootpath", "rootpath", "pkg/gen.txt"),
        ("rlocationpath", "execpath", "_main/pkg/gen.txt"),
        ("rlocationpath", "rootpath", "_main/pkg/gen.txt"),
        ("location", "execpath", f"{BIN}/pkg/gen.txt"),
        ("location", "rootpath", "pkg/gen.txt"),
    ],
)
def test_singular_functions(func, location_means, expected):
    assert run(f"x $({func} :gen.txt) y", location_means=location_means) == f"x {expected} y"


@pytest.mark.parametrize(
    ("func", "location_means", "expected"),
    [
        ("execpaths", "rootpath", "pkg/b.txt pkg/c.txt"),
        ("rootpaths", "execpath", "pkg/b.txt pkg/c.txt"),
        ("rlocationpaths", "execpath", "_main/pkg/b.txt _main/pkg/c.txt"),
        ("locations", "execpath", "pkg/b.txt pkg/c.txt"),
        ("locations", "rootpath", "pkg/b.txt pkg/c.txt"),
    ],
)
def test_plural_functions_sort_dedupe_and_join_with_one_space(func, location_means, expected):
    assert run(f"$({func} :group)", location_means=location_means) == expected


def test_plural_of_a_single_file():
    assert run("$(execpaths :a.txt)") == "pkg/a.txt"


@pytest.mark.parametrize("func", ["location", "execpath", "rootpath", "rlocationpath"])
def test_singular_with_many_files_is_an_error(func):
    err = error_of(f"$({func} :group)")
    assert err.expression == f"$({func} :group)"
    assert f"label '//pkg:group' in $({func}) expression expands to more than one file" in err.reason
    assert f"please use $({func}s //pkg:group) instead" in err.reason
    prefix = "_main/" if func == "rlocationpath" else ""
    assert err.reason.endswith(f"Files are: {prefix}pkg/b.txt, {prefix}pkg/c.txt")


def test_label_with_no_files_is_an_error():
    err = error_of("$(locations :empty)")
    assert err.reason == "label '//pkg:empty' in $(locations) expression expands to no files"


def test_undeclared_label_is_an_error():
    err = error_of("echo $(location :missing) > $@", variables={"@": "out"})
    assert str(err) == (
        "in cmd attribute: $(location :missing): label '//pkg:missing' in $(location) expression "
        "is not a declared prerequisite of this rule"
    )
    assert isinstance(err, KilnError)
    assert err.attribute == "cmd"


def test_error_names_the_attribute():
    err = error_of("$(rootpath //nowhere:x)", attribute="args", location_means="rootpath")
    assert str(err).startswith("in args attribute: $(rootpath //nowhere:x): label '//nowhere:x'")


@pytest.mark.parametrize("spelling", [":a.txt", "a.txt", "//pkg:a.txt", "@//pkg:a.txt", "  :a.txt  "])
def test_relative_and_absolute_label_forms(spelling):
    assert run(f"$(execpath {spelling})") == "pkg/a.txt"


def test_label_in_another_package():
    assert run("$(execpath //tools:tool) --in") == f"{BIN}/tools/tool --in"


def test_invalid_label_is_an_error():
    err = error_of("$(location //pkg:a:b)")
    assert err.reason.startswith("invalid label in $(location) expression: invalid label '//pkg:a:b'")


def test_external_repo_files_rootpath_vs_execpath():
    # `@repo` is the apparent name; the repo mapping makes it canonical.
    assert run("$(execpath @repo//lib:data.txt)") == f"external/{EXTERNAL}/lib/data.txt"
    assert run("$(rootpath @repo//lib:data.txt)") == f"../{EXTERNAL}/lib/data.txt"
    assert run("$(rlocationpath @repo//lib:data.txt)") == f"{EXTERNAL}/lib/data.txt"
    assert run("$(location @repo//lib:data.txt)", location_means="rootpath") == f"../{EXTERNAL}/lib/data.txt"
    assert run("$(location @repo//lib:data.txt)", location_means="execpath") == f"external/{EXTERNAL}/lib/data.txt"


def test_one_segment_paths_get_dot_slash():
    # Bazel's "callable" form: a shell must not look `top.txt` up on PATH.
    assert run("$(execpath //:top.txt)") == "./top.txt"
    assert run("$(rlocationpath //:top.txt)") == "_main/top.txt"


def test_paths_needing_it_are_shell_quoted():
    assert run("cat $(execpath :spaced)") == "cat 'pkg/my file.txt'"
    assert run("$(execpath :quoted)") == "'pkg/it'\\''s.txt'"


def test_unknown_function():
    err = error_of("$(locashun :a.txt)")
    assert err.reason.startswith("$(locashun) not defined")


def test_nested_references_are_rejected():
    err = error_of("$(location $(WHICH))", variables={"WHICH": ":a.txt"})
    assert err.reason == "nested $(...) references are not supported"


# --- plain variables and dollars ------------------------------------------------


def test_text_without_dollar_is_unchanged():
    assert run("echo hello (world)") == "echo hello (world)"


def test_double_dollar_is_a_literal_dollar():
    assert run("a$$b") == "a$b"
    assert run("$$$$") == "$$"
    assert run("echo $$HOME $${x}") == "echo $HOME ${x}"


def test_dollar_shell_variable_is_an_error_telling_to_double_it():
    err = error_of("echo $HOME")
    assert err.expression == "$HOME"
    assert "write '$$HOME' for a shell variable" in err.reason
    assert "'$(HOME)' for a \"Make\" variable" in err.reason


def test_braced_shell_variable_is_an_error():
    err = error_of("echo ${HOME}/x")
    assert err.expression == "${HOME}"
    assert "'$${HOME}'" in err.reason


@pytest.mark.parametrize("template", ["oops $", "a $ b", "$1"])
def test_other_stray_dollars_are_errors(template):
    err = error_of(template)
    assert "$$" in err.reason


def test_variables():
    variables = {"PYTHON3": "/usr/bin/python3", "COMPILATION_MODE": "opt", "FOO": ""}
    assert run("$(PYTHON3) -c 1 $(COMPILATION_MODE)[$(FOO)]", variables=variables) == "/usr/bin/python3 -c 1 opt[]"


def test_unknown_variable():
    err = error_of("$(NOPE)", variables={"NOPE_NOT": "x"})
    assert str(err) == "in cmd attribute: $(NOPE): $(NOPE) not defined"


def test_single_char_variables_need_the_caller_to_define_them():
    assert run("cp $< $@", variables={"<": "in.txt", "@": "out.txt"}) == "cp in.txt out.txt"
    assert run("$(@)", variables={"@": "out.txt"}) == "out.txt"
    err = error_of("$^", variables={"@": "out.txt"})
    assert err.reason == "$(^) not defined"


def test_not_available_variable_reports_its_reason():
    err = error_of("$@", variables={"@": NotAvailable("because")})
    assert (err.expression, err.reason) == ("$@", "because")


def test_unterminated_paren():
    err = error_of("echo $(location :a.txt > out")
    assert "unterminated $(" in err.reason
    assert err.expression == "$(location :a.txt > out"


def test_variable_values_are_expanded_again():
    variables = {"A": "$(B)/x", "B": "b$$c", "SELF": "SELF"}
    assert run("$(A) $(SELF)", variables=variables) == "b$c/x SELF"


def test_error_inside_a_variable_value_names_the_chain():
    err = error_of("$(A)", variables={"A": "-$(B)-", "B": "$(C)"})
    assert err.expression == "$(A)"
    assert err.reason == "in the value of $(A) -> $(B): $(C): $(C) not defined"


def test_variable_cycle_is_an_error():
    err = error_of("$(A)", variables={"A": "$(B)", "B": "x$(A)"})
    assert "refers to itself: $(A) -> $(B) -> $(A)" in err.reason


def test_location_means_is_checked():
    with pytest.raises(ValueError):
        run("x", location_means="location")


# --- genrule variables ------------------------------------------------------------


def genrule(srcs, outs, package=PKG):
    return genrule_variables(
        srcs,
        outs,
        package=package,
        bin_dir=BIN,
        gen_dir=BIN,
        compilation_mode="fastbuild",
        target_cpu="k8",
    )


def test_genrule_variables_with_one_src_and_one_out():
    v = genrule(["pkg/in.txt"], [f"{BIN}/pkg/sub/out.txt"])
    assert run("$(SRCS) $< $(OUTS) $@", variables=v) == (
        f"pkg/in.txt pkg/in.txt {BIN}/pkg/sub/out.txt {BIN}/pkg/sub/out.txt"
    )
    assert run("$(@D)", variables=v) == f"{BIN}/pkg/sub"
    assert run("$(RULEDIR) $(BINDIR) $(GENDIR)", variables=v) == f"{BIN}/pkg {BIN} {BIN}"
    assert run("$(COMPILATION_MODE) $(TARGET_CPU)", variables=v) == "fastbuild k8"


def test_genrule_at_d_with_two_outputs_is_the_package_dir():
    # Even though both outputs share `sub/`, Bazel gives the package directory.
    v = genrule(["pkg/a", "pkg/b"], [f"{BIN}/pkg/sub/x", f"{BIN}/pkg/sub/y"])
    assert run("$(@D)", variables=v) == f"{BIN}/pkg"
    assert run("$(SRCS) | $(OUTS)", variables=v) == f"pkg/a pkg/b | {BIN}/pkg/sub/x {BIN}/pkg/sub/y"


def test_genrule_dollar_at_with_two_outputs_is_an_error():
    v = genrule(["pkg/a"], [f"{BIN}/pkg/x", f"{BIN}/pkg/y"])
    err = error_of("cp $< $@", variables=v)
    assert err.expression == "$@"
    assert err.reason.startswith("variable '$@' : more than one output file")


def test_genrule_dollar_less_than_without_srcs_is_an_error():
    v = genrule([], [f"{BIN}/pkg/x"])
    err = error_of("touch $< $@", variables=v)
    assert err.expression == "$<"
    assert err.reason.startswith("variable '$<' : no input file")
    assert run("$(SRCS)", variables=v) == ""


def test_genrule_dollar_less_than_with_two_srcs_is_an_error():
    err = error_of("cat $<", variables=genrule(["pkg/a", "pkg/b"], [f"{BIN}/pkg/x"]))
    assert err.reason.startswith("variable '$<' : more than one input file")


def test_genrule_duplicate_srcs_count_once():
    v = genrule(["pkg/a", "pkg/a"], [f"{BIN}/pkg/x"])
    assert run("$< $(SRCS)", variables=v) == "pkg/a pkg/a"


def test_ruledir_in_root_package_is_bindir():
    v = genrule([], [f"{BIN}/out.txt"], package=PackageId("", ""))
    assert v["RULEDIR"] == BIN
    assert v["@D"] == BIN
    two = genrule([], [f"{BIN}/x", f"{BIN}/y"], package=PackageId("", ""))
    assert two["@D"] == BIN


def test_package_output_dir_of_external_repo():
    assert package_output_dir(BIN, PackageId(EXTERNAL, "lib")) == f"{BIN}/external/{EXTERNAL}/lib"
    assert package_output_dir(BIN, PackageId(EXTERNAL, "")) == f"{BIN}/external/{EXTERNAL}"
    assert package_output_dir(BIN, PackageId("", "a/b")) == f"{BIN}/a/b"
