import os
import unittest

from greet import banner, greeting


class GreetTest(unittest.TestCase):
    def test_greeting(self):
        self.assertEqual(greeting("kiln"), "Hello, kiln!")

    def test_banner_comes_from_runfiles(self):
        self.assertIn("kiln example", banner())

    def test_environment(self):
        self.assertEqual(os.environ["TEST_WORKSPACE"], "_main")
        self.assertTrue(os.path.isdir(os.environ["TEST_TMPDIR"]))


if __name__ == "__main__":
    unittest.main()
