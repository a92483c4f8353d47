"""Runfiles lookup for programs kiln builds: manifest- or directory-based, repo-mapping aware.

`Runfiles.Create()` reads RUNFILES_MANIFEST_FILE or RUNFILES_DIR (the launcher sets
both); `Rlocation("repo/pkg/file")` maps the apparent repository name `repo` to its
canonical name through the `_repo_mapping` file, as seen from the caller's repository
(or `source_repo`), and returns the file's path, or None if a manifest lacks it.
"""

import inspect
import os
import posixpath
import sys


class _ManifestBased:
    def __init__(self, path):
        if not path:
            raise ValueError("the runfiles manifest path is empty")
        self._path = path
        self._entries = {}
        with open(path, encoding="utf-8", newline="\n") as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith(" "):
                    # Escaped entry: a space, a backslash or a newline in the path.
                    key, _, value = line[1:].partition(" ")
                    key = key.replace("\\s", " ").replace("\\n", "\n").replace("\\b", "\\")
                    value = value.replace("\\n", "\n").replace("\\b", "\\")
                else:
                    key, _, value = line.partition(" ")
                self._entries[key] = value

    def rlocation(self, path):
        if path in self._entries:
            return self._entries[path]
        # A file inside a directory entry of the manifest.
        prefix = path
        while True:
            cut = prefix.rfind("/")
            if cut < 0:
                return None
            prefix = prefix[:cut]
            target = self._entries.get(prefix)
            if target:
                return target + path[cut:]

    def env_vars(self):
        env = {"RUNFILES_MANIFEST_FILE": self._path}
        if self._path.endswith(("/MANIFEST", ".runfiles_manifest")):
            tree = self._path[: -len("MANIFEST")] if self._path.endswith("/MANIFEST") else self._path[: -len("_manifest")]
            env["RUNFILES_DIR"] = tree.rstrip("/")
            env["JAVA_RUNFILES"] = env["RUNFILES_DIR"]
        return env


class _DirectoryBased:
    def __init__(self, path):
        if not path:
            raise ValueError("the runfiles directory path is empty")
        self._root = path

    def rlocation(self, path):
        return posixpath.join(self._root, path)

    def env_vars(self):
        return {"RUNFILES_DIR": self._root, "JAVA_RUNFILES": self._root}


def _read_repo_mapping(path):
    """{(source canonical, target apparent): target canonical}, and the prefix entries (`src*`)."""
    exact, prefixed = {}, []
    if not path or not os.path.isfile(path):
        return exact, prefixed
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(",")
            if len(parts) != 3:
                continue
            source, apparent, canonical = parts
            if source.endswith("*"):
                prefixed.append((source[:-1], apparent, canonical))
            else:
                exact[(source, apparent)] = canonical
    return exact, prefixed


class Runfiles:
    """A program's runfiles: `Rlocation()` finds a file, `EnvVars()` hands them to a child."""

    def __init__(self, strategy):
        self._strategy = strategy
        self._python_runfiles_root = _find_python_runfiles_root()
        self._mapping, self._prefixed = _read_repo_mapping(strategy.rlocation("_repo_mapping"))

    @staticmethod
    def Create(env=None):
        """A Runfiles from RUNFILES_MANIFEST_FILE or RUNFILES_DIR in `env` (default os.environ), else None."""
        env = os.environ if env is None else env
        manifest = env.get("RUNFILES_MANIFEST_FILE")
        if manifest:
            return CreateManifestBased(manifest)
        directory = env.get("RUNFILES_DIR")
        if directory:
            return CreateDirectoryBased(directory)
        return None

    @staticmethod
    def CreateManifestBased(manifest_path):
        return Runfiles(_ManifestBased(manifest_path))

    @staticmethod
    def CreateDirectoryBased(runfiles_dir_path):
        return Runfiles(_DirectoryBased(runfiles_dir_path))

    def Rlocation(self, path, source_repo=None):
        """The path of runfile `path` (`repo/pkg/file`, repo by its apparent name), or None if unknown."""
        if not path:
            raise ValueError("the runfiles path is empty")
        if not isinstance(path, str):
            raise TypeError("the runfiles path must be a str, got %r" % (path,))
        if path.startswith("../") or "/.." in path or path.startswith("./") or "/./" in path \
                or path.endswith("/.") or "//" in path:
            raise ValueError("the runfiles path is not normalized: '%s'" % path)
        if path.startswith("\\"):
            raise ValueError("the runfiles path is absolute without a drive letter: '%s'" % path)
        if os.path.isabs(path):
            return path
        if source_repo is None:
            source_repo = self.CurrentRepository(frame=2)
        apparent, sep, rest = path.partition("/")
        canonical = self._canonical(source_repo, apparent)
        if sep and canonical is not None:
            return self._strategy.rlocation(canonical + "/" + rest)
        return self._strategy.rlocation(path)

    def _canonical(self, source_repo, apparent):
        found = self._mapping.get((source_repo, apparent))
        if found is not None:
            return found
        for prefix, target, canonical in self._prefixed:
            if target == apparent and source_repo.startswith(prefix):
                return canonical
        return None

    def EnvVars(self):
        """The environment variables a child process needs to find the same runfiles."""
        return self._strategy.env_vars()

    def CurrentRepository(self, frame=1):
        """The canonical name of the repository the calling code lives in ("" for the main repository)."""
        try:
            caller = inspect.getfile(sys._getframe(frame))
        except (TypeError, ValueError):
            raise ValueError("cannot determine the caller's file") from None
        caller = os.path.abspath(caller)
        root = self._python_runfiles_root
        if not caller.startswith(root + os.sep):
            raise ValueError("%s does not lie under the runfiles root %s" % (caller, root))
        repo = caller[len(root) + 1:].split(os.sep, 1)[0]
        return "" if repo == "_main" else repo


def _find_python_runfiles_root():
    """The runfiles root this library lies in: `<root>/<repo>/python/runfiles/runfiles.py`."""
    here = os.path.abspath(__file__)
    for _ in range(4):
        here = os.path.dirname(here)
    return here


def Create(env=None):
    return Runfiles.Create(env)


def CreateManifestBased(manifest_path):
    return Runfiles.CreateManifestBased(manifest_path)


def CreateDirectoryBased(runfiles_dir_path):
    return Runfiles.CreateDirectoryBased(runfiles_dir_path)
