"""Runs the real //app:hello program from this test's runfiles."""

import subprocess
import unittest

from runfiles import Runfiles


class HelloTest(unittest.TestCase):
    def test_greets_names_from_data_file(self):
        program = Runfiles.Create().Rlocation("_main/app/hello")
        out = subprocess.run([program, "Linus"], capture_output=True, text=True, check=True).stdout
        self.assertIn("Hello, Ada!", out)
        self.assertIn("Hello, Grace!", out)
        self.assertIn("Hello, Linus!", out)


if __name__ == "__main__":
    unittest.main()
