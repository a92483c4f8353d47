"""kiln.tools.cargo_progress: cargo's stderr, drawn with its progress bar on a pipe, split into the
diagnostics (passed on unchanged) and the bar's counts; and the channel to the executor."""

from __future__ import annotations

import os

import pytest

from kiln.tools.cargo_progress import CargoStderr, Progress, ProgressChannel

# As cargo 1.95 writes it with term.progress.when='always' (recorded from a build of rayon and itoa with an
# unused variable): bars ended by carriage returns, a rendered warning after the last one.
STDERR = (
    "[                            ] 0/16: crossbeam-utils(build.rs)                       \r"
    "[>                           ] 1/16: crossbeam-utils(build.rs), crossbeam-epoch(buil\u2026\r"
    "[=============>              ] 8/16: either, crossbeam-utils     \r"
    "[========================>  ] 15/16: cp14                        \r"
    "warning: unused variable: `x`\n"
    " --> src/lib.rs:1:27\n"
    "  |\n"
    "1 | pub fn f() -> usize { let x = 1; itoa::Buffer::new().format(1).len() }\n"
    "  |                           ^ help: if this is intentional, prefix it with an underscore: `_x`\n"
    "  |\n"
    "\n"
)
WARNING = STDERR[STDERR.index("warning:"):]
EXPECTED = [
    Progress(0, 16, "crossbeam-utils(build.rs)"),
    Progress(1, 16, "crossbeam-utils(build.rs), crossbeam-epoch(buil\u2026"),
    Progress(8, 16, "either, crossbeam-utils"),
    Progress(15, 16, "cp14"),
]


def split(chunk_size: int) -> tuple[str, list[Progress]]:
    text: list[str] = []
    progress: list[Progress] = []
    stream = CargoStderr(text.append, progress.append)
    for i in range(0, len(STDERR), chunk_size):
        stream.feed(STDERR[i:i + chunk_size])
    stream.close()
    return "".join(text), progress


@pytest.mark.parametrize("chunk_size", [len(STDERR), 1, 7, 64])
def test_bars_become_progress_and_diagnostics_pass_unchanged(chunk_size):
    text, progress = split(chunk_size)
    assert progress == EXPECTED
    assert text == WARNING


def test_output_without_a_bar_is_passed_on_as_it_is():
    text: list[str] = []
    stream = CargoStderr(text.append, lambda p: pytest.fail(f"no bar here, got {p}"))
    stream.feed("error[E0425]: cannot find value `y` in this scope\n --> src/lib.rs:2:5\r\nno newline at the end")
    stream.close()
    assert "".join(text) == ("error[E0425]: cannot find value `y` in this scope\n --> src/lib.rs:2:5\r\n"
                             "no newline at the end")


def test_progress_line_for_the_display():
    assert Progress(12, 45, "rayon, syn").line() == "12/45 crates: rayon, syn"
    assert Progress(3, 4).line() == "3/4 crates"


def test_channel_writes_one_line_per_update_to_the_named_descriptor():
    read_fd, write_fd = os.pipe()
    channel = ProgressChannel({"KILN_PROGRESS_FD": str(write_fd)})
    channel.send(Progress(1, 16, "itoa"))
    channel.send(Progress(2, 16))
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        assert f.read() == "1/16 crates: itoa\n2/16 crates\n"


def test_channel_without_a_reader_drops_progress_quietly():
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    channel = ProgressChannel({"KILN_PROGRESS_FD": str(write_fd)})
    channel.send(Progress(1, 2))  # EPIPE: the build goes on
    channel.send(Progress(2, 2))
    os.close(write_fd)
    ProgressChannel({}).send(Progress(1, 2))  # no descriptor named: nothing to do
