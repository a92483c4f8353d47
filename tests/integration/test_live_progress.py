"""A running cargo action shows cargo's progress in kiln's live display (issue 14, item 5), through
the real command on a terminal-like display (--curses=yes --color=yes: rich draws its live line
into the captured stderr); the action's own output stays what cargo's diagnostics are, without the
progress bar cargo draws on its pipe for kiln.

Needs rustc/cargo and rayon in the machine's cargo registry cache (as test_rust does): rayon and its
crossbeam dependencies take a few seconds to compile, long enough for the display to be redrawn.
"""

from __future__ import annotations

import re

from test_rust import SPECS_MODULE, make_workspace, ok

# test_rust's crate.spec workspace, with rayon for itoa.
MODULE = SPECS_MODULE.replace('crate.spec(package = "itoa"', 'crate.spec(package = "rayon"')
assert "rayon" in MODULE

MAIN = """
use rayon::prelude::*;

fn main() {
    let unused = 1;
    let total: u64 = (1..=100u64).into_par_iter().sum();
    println!("sum {}", total);
}
"""

BUILD = """
load("@rules_rust//rust:defs.bzl", "rust_binary")

rust_binary(
    name = "par",
    srcs = ["main.rs"],
    deps = ["@crates//:rayon"],
)
"""
# rich's live line for the cargo action, e.g. "1 running: Compiling Rust bin //:par (cargo, dev) (7/16 crates: …".
_SHOWN = re.compile(r"running: Compiling Rust bin //:par \(cargo, dev\) \((\d+)/(\d+) crates")
_BAR = re.compile(r"\[[=> ]*\] \d+/\d+")


def test_a_running_cargo_build_shows_crates_done_of_total(tmp_path_factory):
    w = make_workspace(tmp_path_factory, "progress_ws")
    w.write("MODULE.bazel", MODULE)
    w.write("BUILD.bazel", BUILD)
    w.write("main.rs", MAIN)
    r = ok(w.kiln("build", "--curses=yes", "--color=yes", "//:par"))
    shown = [(int(done), int(total)) for done, total in _SHOWN.findall(r.stderr)]
    assert shown, r.stderr
    totals = {total for _, total in shown}
    # One count of all of cargo's units for this build (rayon, rayon-core, crossbeam-*, either, the binary
    # and build scripts), each shown done count within it, and the display saw it advance.
    assert len(totals) == 1 and min(totals) >= 8, shown
    assert all(0 <= done <= total for done, total in shown), shown
    assert len({done for done, _ in shown}) > 1, shown
    # The action's output, shown once it finished, is cargo's warning alone: no bar in it.
    assert "unused variable: `unused`" in r.stderr, r.stderr
    assert not _BAR.search(r.stderr), r.stderr
    # The display is no part of the action: without it the same action is a cache hit.
    again = ok(w.kiln("build", "--curses=no", "//:par"))
    assert "0 actions executed, 2 from cache" in again.output, again.output
