"""The runfiles library: find a program's runfiles by runfiles path (`from runfiles import Runfiles`)."""

from .runfiles import Create, CreateDirectoryBased, CreateManifestBased, Runfiles  # noqa: F401
