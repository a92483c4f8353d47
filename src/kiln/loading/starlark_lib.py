"""Starlark source kiln evaluates itself: the .bzl prelude and helper libraries.

The prelude gives every .bzl module Bazel's globals that need no Python:
`native` (a struct of kiln's builtins, bound by the loader), `provider`,
`rule` and `attr` stand-ins that fail only when a rule is instantiated.

`depset` lives in Starlark (DEPSET_BZL, evaluated into every BUILD and .bzl
module) because its elements must stay Starlark values: crossing into Python
turns a struct into a dict and a tuple into a list, and a Python object comes
back opaque, without `.to_list()`. Its traversal mirrors kiln.core.depset.
`config_common` is also given to BUILD files that name it. `json` is Bazel's,
with indent and encode_indent (json_indent in Python).
"""

from __future__ import annotations

import json

from kiln.core.errors import LoadingError

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

# Bazel's json module has indent and encode_indent besides starlark-rust's encode and decode (evaluated
# after CAPTURE_JSON_BZL, with the callable _kiln_json_indent added).
JSON_BZL = '''
def _kiln_json_encode_indent(x, prefix = "", indent = "\\t"):
    return _kiln_json_indent(_kiln_builtin_json.encode(x), prefix = prefix, indent = indent)

json = struct(
    encode = _kiln_builtin_json.encode,
    decode = _kiln_builtin_json.decode,
    indent = _kiln_json_indent,
    encode_indent = _kiln_json_encode_indent,
)
'''

# `native` is assembled by the loader from callables named _kiln_native_<name>.
BZL_PRELUDE_TEMPLATE = CONFIG_COMMON + JSON_BZL + '''
native = struct({native_fields})

def provider(doc = "", fields = None, init = None):
    return struct

def _kiln_attr(kind):
    def _kiln_attr_function(**kwargs):
        cfg = kwargs.get("cfg")
        if type(cfg) == "string" and cfg not in ("exec", "target"):
            fail('attr.%s(): cfg = "%s" is not a configuration kiln knows (use "exec", "target" or a transition)'
                 % (kind, cfg))
        return None
    return _kiln_attr_function

attr = struct(
    label = _kiln_attr("label"), label_list = _kiln_attr("label_list"),
    label_keyed_string_dict = _kiln_attr("label_keyed_string_dict"),
    string_keyed_label_dict = _kiln_attr("string_keyed_label_dict"), string = _kiln_attr("string"),
    string_list = _kiln_attr("string_list"), string_dict = _kiln_attr("string_dict"),
    string_list_dict = _kiln_attr("string_list_dict"), int = _kiln_attr("int"), int_list = _kiln_attr("int_list"),
    bool = _kiln_attr("bool"), output = _kiln_attr("output"), output_list = _kiln_attr("output_list"),
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

# Evaluated before DEPSET_BZL, which shadows `type` module-wide (so it cannot capture it itself).
CAPTURE_TYPE_BZL = "_kiln_builtin_type = type\n"
# Evaluated before the .bzl prelude, whose `json` replaces the global of that name.
CAPTURE_JSON_BZL = "_kiln_builtin_json = json\n"

# Bazel's depset over Starlark values. A depset is a struct whose `to_list` closes over its node;
# `type` is shadowed so that `type(d) == "depset"` as in Bazel. Nodes carry an id from Python
# (`_kiln_depset_id`) so a traversal visits a node shared by many parents once. As in Bazel,
# iterating a depset, `in` and `len` are errors (a struct allows none of them): `to_list()` is
# the way in. Known differences: an empty depset is truthy (Starlark gives a struct no way to be
# falsy), and print()/str() of a depset fail or show a struct instead of `depset([...])`.
DEPSET_BZL = '''
_KILN_DEPSET_ORDERS = ("default", "postorder", "preorder", "topological")
# Starlark has no `while`: the walk loops over this range and breaks out.
_KILN_UNBOUNDED = range(2147483647)

def _kiln_is_depset(x):
    return _kiln_builtin_type(x) == "struct" and hasattr(x, "_kiln_depset")

def type(x):
    return "depset" if _kiln_is_depset(x) else _kiln_builtin_type(x)

def _kiln_element_type(elem_type, item):
    t = _kiln_builtin_type(item)
    if t in ("list", "dict"):
        fail("depset elements must not be mutable values")
    if elem_type != None and t != elem_type:
        fail("cannot add an item of type '%s' to a depset of '%s'" % (t, elem_type))
    return t

def depset(direct = None, order = "default", *, transitive = None):
    if order not in _KILN_DEPSET_ORDERS:
        fail("Invalid order: %s" % (order,))
    if direct == None:
        direct = []
    elif _kiln_builtin_type(direct) not in ("list", "tuple"):
        fail("for parameter 'direct': got value of type '%s', want 'sequence or NoneType'" % type(direct))
    if transitive == None:
        transitive = []
    elif _kiln_builtin_type(transitive) not in ("list", "tuple"):
        fail("for parameter 'transitive': got value of type '%s', want 'sequence or NoneType'" % type(transitive))
    elem_type = None
    unique = {}
    for item in direct:
        elem_type = _kiln_element_type(elem_type, item)
        unique[item] = None
    children = []
    for i, t in enumerate(transitive):
        if not _kiln_is_depset(t):
            fail("at index %d of transitive, got element of type %s, want depset" % (i, type(t)))
        child = t._kiln_depset
        # Empty members add nothing, so their order and type do not matter (as in Bazel).
        if child.empty:
            continue
        if child.order != order and "default" not in (order, child.order):
            fail("Order '%s' is incompatible with order '%s'" % (order, child.order))
        if elem_type == None:
            elem_type = child.elem_type
        elif child.elem_type != elem_type:
            fail("cannot add an item of type '%s' to a depset of '%s'" % (child.elem_type, elem_type))
        children.append(child)
    node = struct(
        id = _kiln_depset_id(), order = order, direct = tuple(unique.keys()), transitive = tuple(children),
        elem_type = elem_type, empty = not unique and not children,
    )
    return struct(to_list = lambda: _kiln_depset_flatten(node), _kiln_depset = node)

def _kiln_depset_emit(items, seen, out):
    for item in items:
        if item not in seen:
            seen[item] = None
            out.append(item)

def _kiln_depset_flatten(root):
    # The walk of kiln.core.depset.Depset._flatten: iterative (deep chains), each node once.
    preorder = root.order == "preorder"
    topological = root.order == "topological"
    visited = {}
    seen = {}
    out = []
    stack = [(root, False)]
    for _ in _KILN_UNBOUNDED:
        if not stack:
            break
        node, expanded = stack.pop()
        if expanded:
            _kiln_depset_emit(reversed(node.direct) if topological else node.direct, seen, out)
            continue
        if node.id in visited:
            continue
        visited[node.id] = None
        if preorder:
            _kiln_depset_emit(node.direct, seen, out)
            stack.extend([(child, False) for child in reversed(node.transitive)])
        else:
            stack.append((node, True))
            children = node.transitive if topological else reversed(node.transitive)
            stack.extend([(child, False) for child in children])
    return list(reversed(out)) if topological else out
'''

COMPILE_PIP_REQUIREMENTS_BZL = '''
def compile_pip_requirements(
        name,
        src = None,
        requirements_in = None,
        requirements_txt = None,
        extra_args = [],
        extra_deps = [],
        generate_hashes = True,
        py_binary = None,
        py_test = None,
        requirements_darwin = None,
        requirements_linux = None,
        requirements_windows = None,
        visibility = ["//visibility:private"],
        tags = None,
        **kwargs):
    # rules_python's macro: `name` (the two files), `name.update` (writes the lock) and `name_test` (fails when
    # it is stale), resolving with uv (@kiln_local_uv) instead of pip-tools.
    requirements_in = src or requirements_in or name + ".in"
    requirements_txt = requirements_txt or name + ".txt"
    native.filegroup(name = name, srcs = [requirements_in, requirements_txt], visibility = visibility)
    resolver = "@rules_python//python/private/pypi:dependency_resolver.py"
    uv = "@kiln_local_uv//:uv"
    args = [
        "$(rootpath %s)" % requirements_in,
        "$(rootpath %s)" % requirements_txt,
        "$(rootpath %s)" % uv,
        "--label=//%s:%s" % (native.package_name(), name),
        "--generate-hashes" if generate_hashes else "--no-generate-hashes",
    ] + extra_args
    data = [requirements_in, requirements_txt, uv]
    (py_binary or native.py_binary)(
        name = name + ".update",
        srcs = [resolver],
        main = resolver,
        args = args,
        data = data,
        deps = extra_deps,
        visibility = visibility,
        tags = tags,
    )
    (py_test or native.py_test)(
        name = name + "_test",
        srcs = [resolver],
        main = resolver,
        args = args + ["--check"],
        data = data,
        deps = extra_deps,
        visibility = visibility,
        tags = (tags or []) + ["requires-network"],
        **kwargs
    )
'''

# Starlark sources of well-known modules, by symbol they define.
STARLARK_SYMBOLS = {"selects": SELECTS_BZL, "compile_pip_requirements": COMPILE_PIP_REQUIREMENTS_BZL}


def json_indent(text: str, prefix: str = "", indent: str = "\t") -> str:
    """Bazel's json.indent: each element on a line of its own, `prefix` then `indent` per level."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise LoadingError(f"json.indent: the text is not JSON: {e}") from None
    return json.dumps(value, indent=indent, separators=(",", ": "), ensure_ascii=False).replace("\n", "\n" + prefix)
