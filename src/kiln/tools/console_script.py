"""Writes the main module of a py_console_script_binary (run inside the action, on the target runtime).

argv: <script> <output.py> <package label> <entry_points.txt>... The console script named <script> is looked
up in the files' [console_scripts] sections, the first file naming it winning; the output imports its object
and exits with what calling it returns, as the launchers pip writes do. Only the standard library is used.
"""

import configparser
import sys


def main(argv: list) -> int:
    script, output, package, *files = argv
    available = []
    for path in files:
        parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
        parser.optionxform = str  # script names are case-sensitive
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
        if not parser.has_section("console_scripts"):
            continue
        entries = dict(parser.items("console_scripts"))
        available += sorted(entries)
        if script in entries:
            module, _, attr = entries[script].partition(":")
            attr = attr.split("[")[0].strip()
            head, _, rest = attr.partition(".")
            call = f"{head}.{rest}()" if rest else f"{head}()"
            with open(output, "w", encoding="utf-8") as out:
                out.write(f"# The console script {script} of {package}.\nimport sys\n\n"
                          f"from {module.strip()} import {head}\n\n"
                          f"if __name__ == \"__main__\":\n    sys.exit({call})\n")
            return 0
    shown = ", ".join(available) if available else "none"
    print(f"{package} has no console script '{script}' (its console scripts: {shown}); set `script`",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
