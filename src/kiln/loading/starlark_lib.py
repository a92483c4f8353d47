"""Starlark source kiln evaluates itself: the .bzl prelude and helper libraries.

The prelude gives every .bzl module Bazel's globals that need no Python:
`native` (a struct of kiln's builtins, bound by the loader), `provider`,
`rule` and `attr` stand-ins that fail only when a rule is instantiated.
`config_common` is also given to BUILD files that name it.
"""

from __future__ import annotations

# A rule's `toolchains` entry: a frozen struct of the type's canonical label and whether it must resolve.
CONFIG_COMMON = '''
def _kiln_toolchain_type(name, mandatory = True):
    if type(name) != "string":
        fail("config_common.toolchain_type() takes the toolchain type's label as a string, got %s" % type(name))
    if type(mandatory) != "bool":
        fail("config_common.toolchain_type(): mandatory must be a bool, got %s" % type(mandatory))
    return struct(toolchain_type = Label(name), mandatory = mandatory)

config_common = struct(toolchain_type = _kiln_toolchain_type)
'''

# `native` is assembled by the loader from callables named _kiln_native_<name>.
BZL_PRELUDE_TEMPLATE = CONFIG_COMMON + '''
native = struct({native_fields})

def provider(doc = "", fields = None, init = None):
    return struct

def depset(direct = None, order = "default", transitive = None):
    items = []
    for t in transitive or []:
        items.extend(t.to_list())
    items.extend(direct or [])
    unique = {{}}
    for item in items:
        unique[item] = True
    flat = list(unique.keys())
    return struct(to_list = lambda: flat)

def _kiln_attr(**kwargs):
    return None

attr = struct(
    label = _kiln_attr, label_list = _kiln_attr, label_keyed_string_dict = _kiln_attr,
    string_keyed_label_dict = _kiln_attr, string = _kiln_attr, string_list = _kiln_attr,
    string_dict = _kiln_attr, string_list_dict = _kiln_attr, int = _kiln_attr, int_list = _kiln_attr,
    bool = _kiln_attr, output = _kiln_attr, output_list = _kiln_attr,
)

def rule(implementation = None, **kwargs):
    return _kiln_unsupported_rule

def aspect(implementation = None, **kwargs):
    return None

def transition(implementation = None, inputs = [], outputs = []):
    return None

def repository_rule(implementation = None, **kwargs):
    return _kiln_unsupported_repository_rule

def module_extension(implementation = None, **kwargs):
    return None

def tag_class(attrs = {{}}, doc = ""):
    return None

def visibility(value):
    pass

config = struct(
    string = _kiln_attr, bool = _kiln_attr, int = _kiln_attr, string_list = _kiln_attr,
    exec = _kiln_attr, target = _kiln_attr, none = _kiln_attr,
)
'''

SELECTS_BZL = '''
def _with_or_dict(input_dict):
    output = {}
    for key, value in input_dict.items():
        if type(key) == type(()):
            for condition in key:
                if condition in output:
                    fail("selects.with_or: condition %s appears more than once" % condition)
                output[condition] = value
        else:
            if key in output:
                fail("selects.with_or: condition %s appears more than once" % key)
            output[key] = value
    return output

def _with_or(input_dict, no_match_error = ""):
    return select(_with_or_dict(input_dict), no_match_error = no_match_error)

def _config_setting_group(name, match_any = [], match_all = [], visibility = None):
    native.config_setting_group(name = name, match_any = match_any, match_all = match_all, visibility = visibility)

selects = struct(
    with_or = _with_or,
    with_or_dict = _with_or_dict,
    config_setting_group = _config_setting_group,
)
'''

# Starlark sources of well-known modules, by symbol they define.
STARLARK_SYMBOLS = {"selects": SELECTS_BZL}
