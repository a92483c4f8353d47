"""Tests for the value options parse into: one frozen dataclass, a typed field per option."""

import dataclasses
import types
import typing

import pytest

from kiln.cli.option_table import OPTIONS, STARTUP_OPTIONS
from kiln.cli.options import Options, StartupOptions, parse_args

# Every kind of value: booleans, ints, enums, tristates, converted, repeatable and unset options.
_BUSY = ["--keep_going", "-j", "3", "-c", "opt", "--define=a=b", "--action_env=X", "--action_env=Y=1",
         "--spawn_strategy=local,standalone", "--extra_toolchains=//t:a", "--explain", "--test_timeout=5",
         "--test_env=E=1", "--test_arg=-v", "--test_tag_filters=a,-b", "--nocache_test_results", "--stamp", "//a"]


def _has_type(value, annotation) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_has_type(v, args[0]) for v in value)
        return len(value) == len(args) and all(map(_has_type, value, args))
    if origin is types.UnionType:
        return any(_has_type(value, a) for a in args)
    if annotation is type(None):
        return value is None
    return type(value) is annotation  # exactly: a bool is no int here, an int no bool


@pytest.mark.parametrize("argv", [["build"], ["test", *_BUSY], ["query", "-k", "deps(//a)"], ["clean"]])
def test_every_value_has_its_options_declared_type(argv):
    values = parse_args(argv, None).options.values
    assert type(values) is Options
    for f in dataclasses.fields(Options):
        assert _has_type(getattr(values, f.name), f.type), (f.name, getattr(values, f.name), f.type)


def test_declared_types_come_from_the_table():
    types_ = {f.name: f.type for f in dataclasses.fields(Options)}
    assert list(types_) == list(OPTIONS)
    assert types_["keep_going"] is bool and types_["jobs"] is int and types_["compilation_mode"] is str
    assert types_["explain"] == str | None
    assert types_["define"] == tuple[tuple[str, str], ...]
    assert types_["extra_toolchains"] == tuple[str, ...]
    assert types_["test_timeout"] == tuple[int, ...]
    assert [f.name for f in dataclasses.fields(StartupOptions)] == list(STARTUP_OPTIONS)


def test_parsed_values_are_read_as_attributes():
    o = parse_args(["test", *_BUSY], None).options.values
    assert (o.keep_going, o.jobs, o.compilation_mode, o.stamp) == (True, 3, "opt", True)
    assert o.define == (("a", "b"),)
    assert o.action_env == (("X", None), ("Y", "1"))
    assert o.spawn_strategy == ("local", "standalone")
    assert o.test_timeout == (5, 5, 5, 5)
    assert o.cache_test_results == "no"


def test_options_are_frozen_and_hashable():
    o = parse_args(["test", *_BUSY], None).options.values
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.keep_going = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.new_option = 1  # type: ignore[attr-defined]
    # Hashing fails on any list or dict inside: there is none.
    again = parse_args(["test", *_BUSY], None).options.values
    assert hash(o) == hash(again) and o == again
    assert o != parse_args(["test", *_BUSY, "--nokeep_going"], None).options.values


def test_a_misspelt_option_name_fails_loudly():
    o = parse_args(["build"], None).options.values
    with pytest.raises(AttributeError, match="keep_goin"):
        o.keep_goin
    # Options kiln only accepts to ignore have no field either.
    assert not hasattr(o, "enable_workspace")
    assert not hasattr(parse_args(["build"], None).startup.values, "batch")


def test_the_default_configuration_is_configurations_default():
    from kiln.cli.session import host_cpu, make_configuration
    from kiln.core.config import Configuration

    assert make_configuration(parse_args(["build"], None)) == Configuration(cpu=host_cpu())


def test_the_configuration_holds_the_options_that_change_outputs():
    from kiln.cli.session import make_configuration

    config = make_configuration(parse_args(
        ["build", "--stamp", "--extra_toolchains=//t:b,//t:a", "--extra_toolchains=//t:c",
         "--extra_execution_platforms=//p:x", "-k", "-j", "1", "--nocheck_visibility"], None))
    assert config.options == (("extra_execution_platforms", "//p:x"), ("extra_toolchains", "//t:b"),
                              ("extra_toolchains", "//t:a"), ("extra_toolchains", "//t:c"), ("stamp", "true"))
    assert config.option_values("extra_toolchains") == ("//t:b", "//t:a", "//t:c")  # in order: it is a priority
    assert config.option_values("stamp") == ("true",)
    assert config.option_values("keep_going") is None and config.option_values("jobs") is None
    plain = make_configuration(parse_args(["build"], None))
    assert plain.option_values("extra_toolchains") == () and plain.option_values("stamp") == ("false",)
