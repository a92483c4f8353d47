"""Greetings, with a banner read from runfiles."""

from runfiles import Runfiles


def banner() -> str:
    r = Runfiles.Create()
    path = r.Rlocation("_main/greet/banner.txt")
    with open(path) as f:
        return f.read().strip()


def greeting(name: str) -> str:
    return f"Hello, {name}!"
