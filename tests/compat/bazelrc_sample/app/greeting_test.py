"""Runs under the .bazelrc's test options: --test_env and the host section's --define reach it."""

import os
import unittest

from app.greeting import greet


class GreetingTest(unittest.TestCase):
    def test_greet(self):
        self.assertEqual(greet("kiln"), "hello, kiln")

    def test_rc_test_env_reaches_the_test(self):
        self.assertEqual(os.environ.get("FROM_RC"), "from_bazelrc")

    def test_host_section_applied(self):
        path = os.path.join(os.environ["TEST_SRCDIR"], os.environ["TEST_WORKSPACE"], "app", "host_section.txt")
        with open(path) as f:
            self.assertEqual(f.read().split(), ["linux", "lint_off"])


if __name__ == "__main__":
    unittest.main()
