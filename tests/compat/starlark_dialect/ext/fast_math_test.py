"""What the macros generated, read at run time through the library they declared."""

import json
import os
import pathlib
import unittest

import fast_math_config


def _data(name):
    here = pathlib.Path(fast_math_config.__file__).parent
    return (here / name).read_text()


class GeneratedConfig(unittest.TestCase):
    def test_names_and_features(self):
        self.assertEqual(fast_math_config.NAME, "fast-math")
        self.assertEqual(
            fast_math_config.CONFIG,
            {"edition": "2021", "features": ["default", "simd", "abi3", "nightly"], "module": "fast_math"},
        )

    def test_nested_function_and_json(self):
        self.assertEqual(
            fast_math_config.SETTINGS,
            ['name="fast-math"', 'features=["default","simd","abi3","nightly"]', "abi3=true"],
        )
        self.assertEqual(fast_math_config.DECODED, {"n": [1, 2.5, True, None]})

    def test_data_files(self):
        self.assertEqual(json.loads(_data("fast_math.json"))["module"], "fast_math")
        self.assertEqual(_data("fast_math_mode.txt").strip(), os.environ.get("EXPECTED_MODE", "debug"))


if __name__ == "__main__":
    unittest.main()
