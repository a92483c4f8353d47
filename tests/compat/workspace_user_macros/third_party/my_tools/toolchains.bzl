"""Registers the Python toolchain of this repository."""

def register_my_toolchains():
    native.register_toolchains("@my_tools//:python_toolchain")
