import os
import sys
import unittest


class ToolchainTest(unittest.TestCase):
    def test_runs_on_the_toolchain_the_workspace_macro_registered(self):
        self.assertEqual(os.path.realpath(sys.executable), os.path.realpath("/usr/bin/python3"))


if __name__ == "__main__":
    unittest.main()
