"""Tests for kiln.core.action_env.spawn_environment: the environment analysis gives a process action.

End to end (--action_env on the command line reaching genrules, a custom PATH, file writes
not rerun) is covered by tests/integration/test_build.py and test_cache.py.
"""

from kiln.core.action_env import DEFAULT_PATH, spawn_environment


def test_a_process_sees_only_the_fixed_path_by_default():
    assert spawn_environment((), None) == (("PATH", "/bin:/usr/bin:/usr/local/bin"),)
    assert DEFAULT_PATH == "/bin:/usr/bin:/usr/local/bin"


def test_action_env_is_added_and_may_set_path():
    env = spawn_environment((("PATH", "/custom/bin"), ("GREETING", "hi")), {})
    assert env == (("GREETING", "hi"), ("PATH", "/custom/bin"))


def test_what_the_rule_declares_wins_over_action_env_and_the_default_path():
    env = spawn_environment((("CC", "from-flag"), ("PATH", "/flag/bin")), {"CC": "rule", "PATH": "/rule/bin", "Z": "1"})
    assert env == (("CC", "rule"), ("PATH", "/rule/bin"), ("Z", "1"))
