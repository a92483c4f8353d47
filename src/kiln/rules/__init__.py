"""kiln's built-in rule sets, registered into one RuleRegistry."""

from __future__ import annotations

from kiln.core.rule_class import RuleRegistry


def default_registry() -> RuleRegistry:
    from kiln.rules.common import copy_file, filegroup, genrule, platform, settings, test_suite
    from kiln.rules.python import py_binary, py_library

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
        platform.CONSTRAINT_SETTING,
        platform.CONSTRAINT_VALUE,
        platform.PLATFORM,
        test_suite.TEST_SUITE,
        py_library.PY_LIBRARY,
        py_binary.PY_BINARY,
        py_binary.PY_TEST,
    ):
        registry.register(rule)
    return registry
