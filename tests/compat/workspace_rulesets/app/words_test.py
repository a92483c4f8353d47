import os
import subprocess
import unittest

from app.words import shout

RUNFILES = os.environ["TEST_SRCDIR"]
MAIN = os.path.join(RUNFILES, os.environ["TEST_WORKSPACE"])


class WordsTest(unittest.TestCase):
    def test_shout(self):
        self.assertEqual(shout("hi"), "HI!")

    def test_greeting_from_skylib_and_aspect_rules(self):
        with open(os.path.join(MAIN, "app", "greeting_copy.txt")) as f:
            self.assertEqual(f.read().strip(), "hello from WORKSPACE")

    def test_rust_binary_runs(self):
        out = subprocess.run([os.path.join(MAIN, "hello", "hello")], capture_output=True, text=True, check=True)
        self.assertEqual(out.stdout.strip(), "hello from rust 7")


if __name__ == "__main__":
    unittest.main()
