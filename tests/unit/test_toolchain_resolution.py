"""Toolchain resolution over values: order, execution platforms, target_settings, optional types, defaults."""

from __future__ import annotations

import re

import pytest

from kiln.analysis.providers import ConstraintValueInfo, DeclaredToolchainInfo, PlatformInfo
from kiln.analysis.toolchain_resolution import (
    ToolchainResolutionError,
    ToolchainTypeRequirement,
    missing_constraints,
    resolve_toolchains,
)
from kiln.core.labels import Label

OS = Label("", "c", "os")
CPU = Label("", "c", "cpu")
LIBC = Label("", "c", "libc")


def value(setting: Label, name: str, default: str | None = None) -> ConstraintValueInfo:
    return ConstraintValueInfo(Label("", "c", name), setting, Label("", "c", default) if default else None)


LINUX, MACOS = value(OS, "linux"), value(OS, "macos")
X86, ARM = value(CPU, "x86_64"), value(CPU, "arm64")
GLIBC, MUSL = value(LIBC, "glibc", "glibc"), value(LIBC, "musl", "glibc")

T = Label("", "t", "type")
U = Label("", "t", "other")


def platform(name: str, *values: ConstraintValueInfo) -> PlatformInfo:
    return PlatformInfo(Label("", "p", name), values)


LINUX_X86 = platform("linux_x86", LINUX, X86)
LINUX_ARM = platform("linux_arm", LINUX, ARM)
MAC_ARM = platform("mac_arm", MACOS, ARM)


def tc(name: str, type_: Label = T, target=(), exec_=(), settings=()) -> DeclaredToolchainInfo:
    return DeclaredToolchainInfo(type_, Label("", "tc", name), tuple(target), tuple(exec_),
                                 tuple(Label("", "cs", s) for s in settings))


def everything_matches(labels):
    return True


def resolve(required, target, execs, candidates, *, exec_compatible_with=(), settings=everything_matches, debug=None):
    reqs = [r if isinstance(r, ToolchainTypeRequirement) else ToolchainTypeRequirement(r) for r in required]
    return resolve_toolchains(reqs, target, execs, exec_compatible_with, candidates, settings,
                              re.compile(debug) if debug else None)


def test_first_matching_candidate_in_registration_order():
    r = resolve([T], LINUX_X86, [LINUX_X86], [tc("mac", target=[MACOS]), tc("first", target=[LINUX]), tc("second")])
    assert r.exec_platform == LINUX_X86
    assert r.by_type() == {T: Label("", "tc", "first")}


def test_exec_platform_is_the_first_with_every_mandatory_type():
    # Only the arm execution platform has a toolchain of T; the x86 one comes first but is skipped.
    candidates = [tc("arm_only", exec_=[ARM])]
    r = resolve([T], LINUX_X86, [LINUX_X86, LINUX_ARM], candidates)
    assert r.exec_platform == LINUX_ARM
    assert r.by_type() == {T: Label("", "tc", "arm_only")}
    # Each type's toolchain is the one for the chosen platform, not the first that matched anywhere.
    candidates = [tc("t_x86", exec_=[X86]), tc("t_arm", exec_=[ARM]), tc("u_arm", U, exec_=[ARM])]
    r = resolve([T, U], LINUX_X86, [LINUX_X86, LINUX_ARM], candidates)
    assert r.exec_platform == LINUX_ARM
    assert r.by_type() == {T: Label("", "tc", "t_arm"), U: Label("", "tc", "u_arm")}


def test_targets_own_exec_compatible_with_filters_exec_platforms():
    r = resolve([T], LINUX_X86, [LINUX_X86, MAC_ARM], [tc("any")], exec_compatible_with=[MACOS])
    assert r.exec_platform == MAC_ARM
    with pytest.raises(ToolchainResolutionError) as e:
        resolve([T], LINUX_X86, [LINUX_X86, LINUX_ARM], [tc("any")], exec_compatible_with=[MACOS])
    assert e.value.message == (
        "Unable to find an execution platform for target platform //p:linux_x86 from available execution "
        "platforms [//p:linux_x86, //p:linux_arm]\n"
        "  //p:linux_x86: mismatching values: macos\n"
        "  //p:linux_arm: mismatching values: macos")


def test_no_types_takes_the_first_compatible_exec_platform():
    r = resolve([], LINUX_X86, [MAC_ARM, LINUX_ARM], [], exec_compatible_with=[LINUX])
    assert (r.exec_platform, r.toolchains) == (LINUX_ARM, ())


def test_target_settings_must_all_match():
    matching = {Label("", "cs", "opt")}

    def settings(labels):
        return all(label in matching for label in labels)

    candidates = [tc("dbg", settings=["opt", "dbg"]), tc("opt", settings=["opt"])]
    r = resolve([T], LINUX_X86, [LINUX_X86], candidates, settings=settings)
    assert r.by_type() == {T: Label("", "tc", "opt")}
    with pytest.raises(ToolchainResolutionError) as e:
        resolve([T], LINUX_X86, [LINUX_X86], candidates[:1], settings=settings)
    assert "Rejected toolchain //tc:dbg; mismatching config settings: //cs:dbg" in e.value.message


def test_optional_type_resolves_to_none():
    r = resolve([T, ToolchainTypeRequirement(U, mandatory=False)], LINUX_X86, [LINUX_X86],
                [tc("t"), tc("u_mac", U, target=[MACOS])])
    assert r.toolchains == ((T, Label("", "tc", "t")), (U, None))
    # An optional type does not steer the execution platform choice, yet takes that platform's toolchain.
    r = resolve([ToolchainTypeRequirement(U, mandatory=False)], LINUX_X86, [LINUX_X86, LINUX_ARM],
                [tc("u_arm", U, exec_=[ARM])])
    assert (r.exec_platform, r.by_type()) == (LINUX_X86, {U: None})


def test_constraint_setting_defaults():
    # LIBC defaults to glibc: a platform that says nothing about libc has glibc, not musl.
    assert missing_constraints(LINUX_X86, [GLIBC]) == []
    assert missing_constraints(LINUX_X86, [MUSL]) == [MUSL]
    assert missing_constraints(platform("musl", LINUX, MUSL), [GLIBC]) == [GLIBC]
    # A setting without a default matches nothing on a platform without a value for it.
    assert missing_constraints(platform("bare"), [LINUX]) == [LINUX]
    r = resolve([T], LINUX_X86, [LINUX_X86], [tc("musl", target=[MUSL]), tc("glibc", target=[GLIBC])])
    assert r.by_type() == {T: Label("", "tc", "glibc")}


def test_missing_mandatory_type_lists_candidates_and_reasons():
    candidates = [tc("mac", target=[MACOS, ARM]), tc("arm_exec", exec_=[ARM]), tc("u", U)]
    with pytest.raises(ToolchainResolutionError) as e:
        resolve([T, U], LINUX_X86, [LINUX_X86], candidates)
    assert e.value.message == (
        "No matching toolchains found for types //t:type. Target platform: //p:linux_x86.\n"
        "Candidates of //t:type:\n"
        "  Rejected toolchain //tc:mac; mismatching values: macos, arm64\n"
        "  Rejected toolchain //tc:arm_exec; no execution platform matches its exec_compatible_with "
        "(//p:linux_x86: mismatching values: arm64)\n"
        "To debug, rerun with --toolchain_resolution_debug='//t:type'")
    with pytest.raises(ToolchainResolutionError) as e:
        resolve([T], LINUX_X86, [LINUX_X86], [tc("u", U)])
    assert "Candidates of //t:type: none registered" in e.value.message


def test_types_resolving_on_different_exec_platforms_only():
    candidates = [tc("t_x86", exec_=[X86]), tc("u_arm", U, exec_=[ARM])]
    with pytest.raises(ToolchainResolutionError) as e:
        resolve([T, U], LINUX_X86, [LINUX_X86, LINUX_ARM], candidates)
    assert e.value.message == (
        "No execution platform has a toolchain of every mandatory type (//t:type, //t:other) for target "
        "platform //p:linux_x86:\n  //p:linux_x86: no toolchain of //t:other\n  //p:linux_arm: no toolchain of //t:type")


def test_debug_lines_filtered_by_type():
    candidates = [tc("mac", target=[MACOS]), tc("arm", exec_=[ARM]), tc("any"), tc("u", U)]
    r = resolve([T, U], LINUX_X86, [LINUX_X86, LINUX_ARM], candidates, exec_compatible_with=[LINUX],
                debug="t:type")
    assert list(r.debug) == [
        "type //t:type: target platform //p:linux_x86: Rejected toolchain //tc:mac; mismatching values: macos",
        "type //t:type: target platform //p:linux_x86: execution platform //p:linux_x86: "
        "Rejected toolchain //tc:arm; mismatching values: arm64",
        "type //t:type: target platform //p:linux_x86: execution platform //p:linux_arm: Selected toolchain //tc:arm",
        "type //t:type: target platform //p:linux_x86: execution platform //p:linux_x86: Selected toolchain //tc:any",
        "type //t:type: target platform //p:linux_x86: execution platform //p:linux_arm: "
        "Skipped toolchain //tc:any; //tc:arm comes first",
        "target platform //p:linux_x86: Selected execution platform //p:linux_x86, "
        "type //t:type -> toolchain //tc:any, type //t:other -> toolchain //tc:u",
    ]
    r = resolve([T], LINUX_X86, [MAC_ARM, LINUX_X86], [tc("any")], exec_compatible_with=[LINUX], debug=".*")
    assert r.debug[0] == "target platform //p:linux_x86: Skipped execution platform //p:mac_arm; mismatching values: linux"
    assert resolve([T], LINUX_X86, [LINUX_X86], candidates, debug="nothing").debug == ()
    assert resolve([T], LINUX_X86, [LINUX_X86], candidates).debug == ()


def test_debug_names_exec_platforms_skipped_for_lack_of_a_toolchain():
    r = resolve([T], LINUX_X86, [LINUX_X86, LINUX_ARM], [tc("arm", exec_=[ARM])], debug="type")
    assert r.debug[-2:] == (
        "target platform //p:linux_x86: Skipped execution platform //p:linux_x86; no toolchain of mandatory type //t:type",
        "target platform //p:linux_x86: Selected execution platform //p:linux_arm, type //t:type -> toolchain //tc:arm",
    )
