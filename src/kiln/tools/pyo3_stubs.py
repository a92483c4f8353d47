"""Writes the `.pyi` type stubs of a built PyO3 extension module (pyo3_extension's `stubs`).

Run by the Python runtime the module was built for (so it imports), with only the
standard library: `python pyo3_stubs.py <module name> <module file> <output .pyi>`.
It imports the module from its file and writes what the module itself says:
functions and methods with the signature PyO3 records in `__text_signature__`
(the `#[pyo3(signature = ...)]` or the Rust parameters), docstrings, classes
with their methods and properties, and the type of each other attribute. PyO3
does not record Rust types in the module, so parameters and results are
untyped (`typing.Any`), as stubgen does for extension modules.
Keep it importable by every runtime kiln builds for (3.8 and PyPy included).
"""

import importlib.machinery
import importlib.util
import inspect
import sys

_INDENT = "    "


def _load(name, path):
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def _signature(obj, method):
    text = getattr(obj, "__text_signature__", None)
    if not text:
        return "(self, *args, **kwargs)" if method else "(*args, **kwargs)"
    # CPython's notation for the bound object: `$self`, `$module`, `$cls`, `$type`.
    params = [p.strip() for p in text.strip()[1:-1].split(",") if p.strip()]
    if params and params[0].startswith("$"):
        first = params.pop(0)[1:]
        if method:
            params.insert(0, "cls" if first in ("cls", "type") else "self")
    elif method:
        params.insert(0, "self")
    return "(" + ", ".join(params) + ")"


def _doc(obj, indent):
    # The object's own docstring (inspect.getdoc would fall back on a base class's).
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    if not isinstance(doc, str) or not doc.strip():
        return []
    doc = inspect.cleandoc(doc)
    body = doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = body.splitlines()
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}'] + [f"{indent}{line}" if line else "" for line in lines[1:]] + [f'{indent}"""']


def _function(name, obj, indent, method=False, decorator=None):
    lines = [f"{indent}@{decorator}"] if decorator else []
    doc = _doc(obj, indent + _INDENT)
    head = f"{indent}def {name}{_signature(obj, method)} -> Any:"
    return lines + ([head] + doc + [f"{indent}{_INDENT}..."] if doc else [head + " ..."])


def _class(name, cls):
    lines = [f"class {name}:"]
    body = _doc(cls, _INDENT)
    # PyO3 records the #[new] constructor's parameters as the class's own signature.
    if getattr(cls, "__text_signature__", None):
        body.append(f"{_INDENT}def __init__{_signature(cls, method=True)} -> None: ...")
    for attr, value in sorted(vars(cls).items()):
        if attr.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            kind = "staticmethod" if isinstance(value, staticmethod) else "classmethod"
            body += _function(attr, value.__func__, _INDENT, method=kind == "classmethod", decorator=kind)
        elif inspect.isroutine(value):
            body += _function(attr, value, _INDENT, method=True)
        elif inspect.isdatadescriptor(value):
            body += [f"{_INDENT}@property", f"{_INDENT}def {attr}(self) -> Any: ..."]
        else:
            body.append(f"{_INDENT}{attr}: {type(value).__name__}")
    return lines + (body or [f"{_INDENT}..."])


def stubs(module):
    lines = [f"# Type stubs of the extension module {module.__name__}, written by kiln from the built module.",
             "from typing import Any", ""]
    lines += _doc(module, "")
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in sorted(names):
        value = getattr(module, name)
        lines.append("")
        if inspect.isclass(value):
            lines += _class(name, value)
        elif inspect.isroutine(value):
            lines += _function(name, value, "")
        elif inspect.ismodule(value):
            lines.append(f"{name}: Any  # submodule {value.__name__}")
        else:
            lines.append(f"{name}: {type(value).__name__}")
    return "\n".join(lines) + "\n"


def main(argv):
    name, path, output = argv
    text = stubs(_load(name, path))
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
