"""Macros in the style of rules_rust's PyO3 ones: keyword-only parameters, lambdas, nested functions,
struct, json and select."""

load("@bazel_skylib//rules:write_file.bzl", "write_file")
load("@rules_python//python:defs.bzl", _py_library = "py_library", _py_test = "py_test")
load(":naming.bzl", "NAMING", "crate_name")

# A load binds only in this file: what a BUILD file may load from here is assigned.
py_test = _py_test

_DEFAULTS = struct(edition = "2021", features = ["default"])

_quote = lambda text: "'%s'" % text

# Top-level comprehensions are allowed where top-level `for` is not.
_FEATURE_RANK = {feature: rank for rank, feature in enumerate(["default", "simd", "abi3", "nightly"])}

def _settings(*, name, features, extra = {}):
    def entry(key, value):
        return "{}={}".format(key, json.encode(value))

    lines = [entry("name", name), entry("features", features)]
    lines.extend([entry(key, value) for key, value in sorted(extra.items())])
    return lines

def pyo3_style_extension(*, name, features = [], edition = None, visibility = None, **kwargs):
    """A Python library made of generated modules, named after `name` as a PyO3 extension would be.

    Args:
        name: the target; its crate name is `name` with dashes as underscores.
        features: added to the default features, ordered by rank.
        edition: the Rust edition recorded (default 2021).
        visibility: of the library.
        **kwargs: passed to py_library.
    """
    module = crate_name(name)
    features = sorted(
        _DEFAULTS.features + [f for f in features if f not in _DEFAULTS.features],
        key = lambda f: _FEATURE_RANK.get(f, len(_FEATURE_RANK)),
    )
    config = {"edition": edition or _DEFAULTS.edition, "features": features, "module": module}
    write_file(
        name = name + "_json",
        out = NAMING.json_name(module),
        content = [json.encode_indent(config, indent = "  ")],
    )
    config_module = module + NAMING.config_suffix
    write_file(
        name = name + "_py",
        out = config_module + ".py",
        content = [
            "NAME = " + _quote(name),
            "CONFIG = " + json.encode(config),
            "SETTINGS = " + json.encode(_settings(name = name, features = features, extra = {"abi3": "abi3" in features})),
            "DECODED = " + repr(json.decode('{"n": [1, 2.5, true, null]}')),
        ],
    )
    native.genrule(
        name = name + "_mode",
        outs = [module + "_mode.txt"],
        cmd = "echo " + select({
            "//macros:opt": "release",
            "//conditions:default": "debug",
        }) + " > $@",
    )
    _py_library(
        name = name,
        srcs = [config_module + ".py"],
        data = [NAMING.json_name(module), module + "_mode.txt"],
        imports = ["."],
        visibility = visibility,
        **kwargs
    )
