"""Writes a py_wheel's .whl from the JSON spec kiln.rules.python.py_wheel gives (run inside the action).

The archive is reproducible: entries in a fixed order (the files, then the .data files, then the dist-info,
RECORD last), a fixed timestamp (1980-01-01) and modes 0644 / 0755. Before writing, the tags are checked
against the extension modules the wheel holds: a module built for one CPython version under another tag or
under abi3 / none, or for a machine the platform tag does not name, fails the action with the reason; an
abi3 module under a version-specific tag is said in a warning (it works, but the wheel could be abi3).
"""

import base64
import hashlib
import json
import os
import re
import stat
import sys
import zipfile

_EPOCH = (1980, 1, 1, 0, 0, 0)
# ".cpython-311-x86_64-linux-gnu.so", ".cpython-313t-...", ".abi3.so", ".pypy39-pp73-x86_64-linux-gnu.so"
_SUFFIX = re.compile(r"\.(?:cpython-(\d)(\d+)([a-z]*)-(\w+?)-(linux-gnu|linux-musl|darwin)|(abi3)|"
                     r"pypy(\d)(\d+)-pp\d+-(\w+?)-(linux-gnu|darwin))\.so$")


class WheelError(Exception):
    pass


def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def check_tags(tags, archive_paths):
    """Errors and warnings about the extension modules among `archive_paths` under the wheel's tags."""
    python_tag, abi, platform = tags
    errors, warnings = [], []
    modules = [p for p in archive_paths if p.endswith(".so") or ".so." in p or p.endswith(".pyd")]
    for path in modules:
        match = _SUFFIX.search(path)
        if platform == "any":
            errors.append(f"{path} is an extension module, which runs on one kind of machine only, but the wheel's "
                          "platform tag is 'any'")
        if match is None:
            continue
        if match.group(1):
            major, minor, flags, machine, system = match.group(1, 2, 3, 4, 5)
            wanted = f"cp{major}{minor}{flags}"
            if abi != wanted:
                errors.append(f"{path} is built for CPython {major}.{minor}{flags} only (its suffix), but the "
                              f"wheel's ABI tag is '{abi}': set abi = \"{wanted}\" and python_tag = "
                              f"\"cp{major}{minor}\"")
            _check_machine(path, machine, system, platform, errors)
        elif match.group(6):
            if abi not in ("abi3", "none") and abi.startswith("cp3"):
                warnings.append(f"{path} is an abi3 module under the version-specific ABI tag '{abi}': the wheel "
                                f"could be tagged abi = \"abi3\" and installed on every later CPython")
            elif abi == "none":
                errors.append(f"{path} is an abi3 module, but the wheel's ABI tag is 'none': set abi = \"abi3\"")
        else:
            machine, system = match.group(9, 10)
            _check_machine(path, machine, system, platform, errors)
    return errors, warnings


def _check_machine(path, machine, system, platform, errors):
    if platform == "any":
        return
    plat = platform.lower()
    os_ok = (system.startswith("linux") and ("linux" in plat)) or (system == "darwin" and "macosx" in plat)
    if system == "linux-musl" and "manylinux" in plat:
        os_ok = False
    if not os_ok or not plat.endswith(machine.lower()):
        errors.append(f"{path} is built for {machine} {system.replace('-', ' ')}, which the wheel's platform tag "
                      f"'{platform}' does not name")


def metadata_text(spec):
    m = spec["metadata"]
    lines = ["Metadata-Version: 2.1", f"Name: {spec['distribution']}", f"Version: {spec['version']}"]
    for key, field in (("summary", "Summary"), ("homepage", "Home-page"), ("author", "Author"),
                       ("author_email", "Author-email"), ("maintainer", "Maintainer"),
                       ("maintainer_email", "Maintainer-email"), ("license", "License"), ("keywords", "Keywords"),
                       ("python_requires", "Requires-Python"),
                       ("description_content_type", "Description-Content-Type")):
        if m.get(key):
            lines.append(f"{field}: {m[key]}")
    lines += [f"Project-URL: {label}, {url}" for label, url in m["project_urls"].items()]
    lines += [f"Classifier: {c}" for c in m["classifiers"]]
    requires = list(m["requires"])
    for path in m["requires_files"]:
        with open(path, encoding="utf-8") as f:
            requires += [r.split("#")[0].strip() for r in f if r.split("#")[0].strip() and not r.startswith("-")]
    lines += [f"Requires-Dist: {r}" for r in requires]
    for extra, reqs in sorted(m["extra_requires"].items()):
        lines.append(f"Provides-Extra: {extra}")
        for r in reqs:
            req, _, marker = r.partition(";")
            both = f"({marker.strip()}) and extra == '{extra}'" if marker.strip() else f"extra == '{extra}'"
            lines.append(f"Requires-Dist: {req.strip()}; {both}")
    text = "\n".join(lines) + "\n"
    if m["description_file"]:
        with open(m["description_file"], encoding="utf-8") as f:
            text += "\n" + f.read()
    return text


def build(spec):
    python_tag, abi, platform = spec["tags"]
    version = re.sub(r"[^\w\d.]+", "_", spec["version"])
    dist_info = f"{spec['name']}-{version}.dist-info"
    data_dir = dist_info.replace(".dist-info", ".data")
    entries = {}
    for source, path in spec["files"]:
        entries.setdefault(path, source)
    for source, path in spec["data_files"]:
        entries.setdefault(f"{data_dir}/{path}", source)
    errors, warnings = check_tags(spec["tags"], list(entries))
    if errors:
        raise WheelError("\n".join(errors))
    for w in warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    generated = {f"{dist_info}/METADATA": metadata_text(spec).encode()}
    tag_lines = [f"Tag: {py}-{abi}-{plat}" for py in python_tag.split(".") for plat in platform.split(".")]
    purelib = "true" if abi == "none" and platform == "any" else "false"
    generated[f"{dist_info}/WHEEL"] = ("Wheel-Version: 1.0\nGenerator: kiln\nRoot-Is-Purelib: " + purelib + "\n"
                                       + "\n".join(tag_lines) + "\n").encode()
    if spec["entry_points"]:
        generated[f"{dist_info}/entry_points.txt"] = "".join(
            f"[{section}]\n" + "".join(f"{e.strip()}\n" for e in sorted(items)) + "\n"
            for section, items in sorted(spec["entry_points"].items())).encode()
    for source, path in spec["distinfo_files"]:
        with open(source, "rb") as f:
            generated[f"{dist_info}/{path}"] = f.read()
    record = []
    with zipfile.ZipFile(spec["output"] + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(entries):
            with open(entries[path], "rb") as f:
                data = f.read()
            executable = os.stat(entries[path]).st_mode & stat.S_IXUSR
            _add(z, path, data, 0o755 if executable else 0o644)
            record.append(f"{path},{_record_hash(data)},{len(data)}")
        for path in sorted(generated):
            _add(z, path, generated[path], 0o644)
            record.append(f"{path},{_record_hash(generated[path])},{len(generated[path])}")
        record.append(f"{dist_info}/RECORD,,")
        _add(z, f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), 0o644)
    os.replace(spec["output"] + ".tmp", spec["output"])


def _add(z, path, data, mode):
    info = zipfile.ZipInfo(path, _EPOCH)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def main(argv):
    with open(argv[0], encoding="utf-8") as f:
        spec = json.load(f)
    try:
        build(spec)
    except WheelError as e:
        print(f"{os.path.basename(spec['output'])}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
