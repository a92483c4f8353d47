"""kiln's built-in rule sets, registered into one RuleRegistry."""

from __future__ import annotations

from kiln.core.rule_class import RuleRegistry


def default_registry() -> RuleRegistry:
    from kiln.rules.common import (copy_file, filegroup, genrule, label_settings, platform, settings, test_suite,
                                   toolchain)
    from kiln.rules.python import (py_binary, py_console_script, py_interpreter, py_interpreter_program,
                                   py_library, py_runtime, py_toolchains, py_wheel, sdist_package)
    from kiln.rules.rust import pyo3, pyo3_toolchain, rust_rules
    from kiln.rules.rust import toolchain as rust_toolchain
    from kiln.rules.python.providers import PY_TOOLCHAIN_TYPE
    from kiln.rules.rust.providers import PYO3_TOOLCHAIN_TYPE, RUST_PYO3_TOOLCHAIN_TYPE, RUST_TOOLCHAIN_TYPE

    registry = RuleRegistry()
    for rule in (
        filegroup.FILEGROUP,
        filegroup.ALIAS,
        genrule.GENRULE,
        copy_file.COPY_FILE,
        copy_file.WRITE_FILE,
        settings.CONFIG_SETTING,
        settings.CONFIG_SETTING_GROUP,
        *settings.BUILD_SETTINGS,
        *label_settings.LABEL_SETTINGS,
        platform.CONSTRAINT_SETTING,
        platform.CONSTRAINT_VALUE,
        platform.PLATFORM,
        platform.HOST_PLATFORM,
        toolchain.TOOLCHAIN_TYPE,
        toolchain.TOOLCHAIN,
        test_suite.TEST_SUITE,
        py_library.PY_LIBRARY,
        py_binary.PY_BINARY,
        py_binary.PY_TEST,
        py_console_script.PY_CONSOLE_SCRIPT_BINARY,
        py_wheel.PY_WHEEL,
        py_wheel.PY_PACKAGE,
        sdist_package.KILN_SDIST_PACKAGE,
        py_runtime.PY_RUNTIME,
        py_runtime.PY_RUNTIME_PAIR,
        py_toolchains.PY_CC_TOOLCHAIN,
        py_toolchains.PY_EXEC_TOOLS_TOOLCHAIN,
        py_toolchains.CURRENT_PY_TOOLCHAIN,
        py_toolchains.CURRENT_PY_CC_HEADERS,
        py_toolchains.CURRENT_PY_CC_LIBS,
        py_interpreter.PY_INTERPRETER,
        py_interpreter.SENTINEL,
        py_interpreter_program.PY_INTERPRETER_PROGRAM,
        rust_toolchain.LOCAL_RUST_TOOLCHAIN,
        rust_rules.RUST_LIBRARY,
        rust_rules.RUST_PROC_MACRO,
        rust_rules.RUST_SHARED_LIBRARY,
        rust_rules.RUST_BINARY,
        rust_rules.RUST_TEST,
        rust_rules.RUST_REGISTRY_CRATE,
        pyo3.PYO3_EXTENSION,
        pyo3.PYO3_MODULE,
        pyo3_toolchain.RUST_PYO3_TOOLCHAIN,
        pyo3_toolchain.PYO3_TOOLCHAIN,
    ):
        registry.register(rule)
    # Each rule set's fallback toolchain, considered after every one the workspace registers.
    registry.default_toolchains.extend(((PY_TOOLCHAIN_TYPE, "@kiln_toolchains//python:all"),
                                        (RUST_TOOLCHAIN_TYPE, "@kiln_toolchains//rust:all"),
                                        (PYO3_TOOLCHAIN_TYPE, "@kiln_toolchains//pyo3:all"),
                                        (RUST_PYO3_TOOLCHAIN_TYPE, "@kiln_local_pyo3//:all")))
    return registry
