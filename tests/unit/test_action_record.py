"""The canonical REAPI action record: Command, input Merkle tree, Action and their digests."""

from __future__ import annotations

import hashlib

import pytest

from kiln.core.digests import Digest, digest_bytes
from kiln.execution.action_record import ActionRecordError, ActionSpec, build_action_record
from kiln.execution.reapi import remote_execution_pb2 as re_pb2

# sha256 of no bytes, as published (not recomputed here).
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

HELLO = digest_bytes(b"hello\n")
WORLD = digest_bytes(b"world\n")
TOOL = digest_bytes(b"#!/bin/sh\necho tool\n")


def spec(**overrides) -> ActionSpec:
    fields = dict(
        argv=("tools/run.sh", "pkg/in.txt", "bazel-out/k8-fastbuild/bin/pkg/out.txt"),
        env=(("PATH", "/bin:/usr/bin"), ("LANG", "C.UTF-8")),
        output_files=("bazel-out/k8-fastbuild/bin/pkg/out.txt",),
        input_files={"pkg/in.txt": (HELLO, False), "tools/run.sh": (TOOL, True)},
    )
    fields.update(overrides)
    return ActionSpec(**fields)


def parse(record, digest: Digest, message_type):
    message = message_type()
    message.ParseFromString(record.blobs[digest])
    return message


def pb_digest(d: Digest) -> re_pb2.Digest:
    return re_pb2.Digest(hash=d.hash, size_bytes=d.size)


def by_hand(message) -> Digest:
    data = message.SerializeToString(deterministic=True)
    return Digest(hashlib.sha256(data).hexdigest(), len(data))


def test_empty_input_root_is_the_digest_of_no_bytes():
    record = build_action_record(ActionSpec(argv=("true",)))
    assert record.input_root_digest == Digest(EMPTY_SHA256, 0)
    assert record.blobs[record.input_root_digest] == b""


def test_every_digest_is_the_sha256_of_its_blob():
    record = build_action_record(spec())
    assert len(record.blobs) == 5  # Command, Action, root, pkg/, tools/
    for digest, data in record.blobs.items():
        assert digest == Digest(hashlib.sha256(data).hexdigest(), len(data))


def test_a_directory_is_encoded_as_the_wire_format_says():
    # FileNode{name=1, digest=2, is_executable=4} inside Directory.files=1, encoded by hand.
    five = digest_bytes(b"12345")
    digest_msg = b"\x0a\x40" + five.hash.encode() + b"\x10\x05"
    file_node = b"\x0a\x01a" + b"\x12" + bytes([len(digest_msg)]) + digest_msg + b"\x20\x01"
    expected = b"\x0a" + bytes([len(file_node)]) + file_node
    record = build_action_record(ActionSpec(argv=("true",), input_files={"a": (five, True)}))
    assert record.blobs[record.input_root_digest] == expected


def test_a_small_tree_has_the_digest_of_directories_built_by_hand():
    record = build_action_record(spec(
        input_files={
            "pkg/in.txt": (HELLO, False),
            "pkg/b.txt": (WORLD, False),
            "tools/run.sh": (TOOL, True),
            "top.txt": (WORLD, False),
        },
        input_symlinks={"pkg/link": "in.txt"},
    ))
    pkg = re_pb2.Directory(
        files=[re_pb2.FileNode(name="b.txt", digest=pb_digest(WORLD)),
               re_pb2.FileNode(name="in.txt", digest=pb_digest(HELLO))],
        symlinks=[re_pb2.SymlinkNode(name="link", target="in.txt")],
    )
    tools = re_pb2.Directory(files=[re_pb2.FileNode(name="run.sh", digest=pb_digest(TOOL), is_executable=True)])
    root = re_pb2.Directory(
        files=[re_pb2.FileNode(name="top.txt", digest=pb_digest(WORLD))],
        directories=[re_pb2.DirectoryNode(name="pkg", digest=pb_digest(by_hand(pkg))),
                     re_pb2.DirectoryNode(name="tools", digest=pb_digest(by_hand(tools)))],
    )
    assert record.input_root_digest == by_hand(root)
    assert record.blobs[by_hand(pkg)] == pkg.SerializeToString(deterministic=True)
    assert record.blobs[by_hand(tools)] == tools.SerializeToString(deterministic=True)


def test_nested_directories_form_a_chain_of_directory_nodes():
    record = build_action_record(ActionSpec(argv=("true",), input_files={"a/b/c/d.txt": (HELLO, False)}))
    node = parse(record, record.input_root_digest, re_pb2.Directory)
    names = []
    while node.directories:
        assert len(node.directories) == 1 and not node.files
        child = node.directories[0]
        names.append(child.name)
        node = parse(record, Digest(child.digest.hash, child.digest.size_bytes), re_pb2.Directory)
    assert names == ["a", "b", "c"]
    assert [(f.name, f.digest.hash) for f in node.files] == [("d.txt", HELLO.hash)]


def test_the_command_and_action_hold_what_the_spawn_says():
    record = build_action_record(spec(
        output_directories=("bazel-out/k8-fastbuild/bin/pkg/tree",),
        platform=(("OSFamily", "Linux"), ("container-image", "docker://x")),
        timeout_seconds=2.5,
        do_not_cache=True,
        salt=b"rule-v3",
    ))
    command = parse(record, record.command_digest, re_pb2.Command)
    assert list(command.arguments) == list(spec().argv)
    assert [(e.name, e.value) for e in command.environment_variables] == [("LANG", "C.UTF-8"), ("PATH", "/bin:/usr/bin")]
    assert list(command.output_files) == ["bazel-out/k8-fastbuild/bin/pkg/out.txt"]
    assert list(command.output_directories) == ["bazel-out/k8-fastbuild/bin/pkg/tree"]
    assert list(command.output_paths) == ["bazel-out/k8-fastbuild/bin/pkg/out.txt", "bazel-out/k8-fastbuild/bin/pkg/tree"]
    action = parse(record, record.action_digest, re_pb2.Action)
    assert (action.command_digest.hash, action.command_digest.size_bytes) == (record.command_digest.hash, record.command_digest.size)
    assert (action.input_root_digest.hash, action.input_root_digest.size_bytes) == (record.input_root_digest.hash, record.input_root_digest.size)
    assert (action.timeout.seconds, action.timeout.nanos) == (2, 500_000_000)
    assert action.do_not_cache
    assert action.salt == b"rule-v3"
    properties = [("OSFamily", "Linux"), ("container-image", "docker://x")]
    assert [(p.name, p.value) for p in action.platform.properties] == properties
    assert [(p.name, p.value) for p in command.platform.properties] == properties


def test_without_a_timeout_or_platform_those_fields_are_absent():
    record = build_action_record(spec())
    action = parse(record, record.action_digest, re_pb2.Action)
    assert not action.HasField("timeout")
    assert not action.HasField("platform")
    assert not parse(record, record.command_digest, re_pb2.Command).HasField("platform")


def test_the_order_inputs_env_outputs_and_properties_are_given_in_does_not_change_the_digest():
    a = spec(
        env=(("PATH", "/bin"), ("LANG", "C"), ("A", "1")),
        output_files=("z.txt", "a.txt", "m/x.txt"),
        input_files={"pkg/in.txt": (HELLO, False), "pkg/a.txt": (WORLD, False), "tools/run.sh": (TOOL, True)},
        platform=(("b", "2"), ("a", "1"), ("a", "0")),
    )
    b = spec(
        env=(("A", "1"), ("PATH", "/bin"), ("LANG", "C")),
        output_files=("m/x.txt", "z.txt", "a.txt", "a.txt"),
        input_files={"tools/run.sh": (TOOL, True), "pkg/a.txt": (WORLD, False), "pkg/in.txt": (HELLO, False)},
        platform=(("a", "0"), ("b", "2"), ("a", "1")),
    )
    assert build_action_record(a).action_digest == build_action_record(b).action_digest


def test_the_same_spawn_from_two_workspace_paths_has_the_same_digests_and_no_machine_path(tmp_path):
    # Both workspaces hold the same files; the spec is built from exec paths relative to each root.
    def spec_for(workspace):
        files = {"pkg/in.txt": b"hello\n", "tools/run.sh": b"#!/bin/sh\necho tool\n"}
        for rel, data in files.items():
            (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
            (workspace / rel).write_bytes(data)
        inputs = {
            str(p.relative_to(workspace)): (digest_bytes(p.read_bytes()), p.name.endswith(".sh"))
            for p in workspace.rglob("*") if p.is_file()
        }
        return spec(input_files=inputs)

    first, second = tmp_path / "one" / "ws", tmp_path / "elsewhere" / "deeper" / "ws"
    a, b = build_action_record(spec_for(first)), build_action_record(spec_for(second))
    assert (a.action_digest, a.command_digest, a.input_root_digest) == (b.action_digest, b.command_digest, b.input_root_digest)
    assert a.blobs == b.blobs
    for data in a.blobs.values():
        assert b"/tmp" not in data
        assert str(tmp_path).encode() not in data


def test_the_executable_bit_changes_the_digest():
    plain = spec(input_files={"tools/run.sh": (TOOL, False)})
    executable = spec(input_files={"tools/run.sh": (TOOL, True)})
    assert build_action_record(plain).input_root_digest != build_action_record(executable).input_root_digest
    assert build_action_record(plain).action_digest != build_action_record(executable).action_digest


@pytest.mark.parametrize("change", [
    dict(argv=("tools/run.sh", "other")),
    dict(env=(("PATH", "/usr/bin"),)),
    dict(output_files=("other.txt",)),
    dict(output_directories=("bazel-out/k8-fastbuild/bin/pkg/out.txt",), output_files=()),
    dict(input_files={"pkg/in.txt": (WORLD, False), "tools/run.sh": (TOOL, True)}),
    dict(input_files={"pkg/renamed.txt": (HELLO, False), "tools/run.sh": (TOOL, True)}),
    dict(input_symlinks={"pkg/link": "in.txt"}),
    dict(platform=(("OSFamily", "Linux"),)),
    dict(timeout_seconds=60),
    dict(do_not_cache=True),
    dict(salt=b"v2"),
])
def test_each_field_of_the_spawn_changes_the_action_digest(change):
    assert build_action_record(spec(**change)).action_digest != build_action_record(spec()).action_digest


def test_a_file_and_a_directory_of_the_same_name_are_rejected():
    with pytest.raises(ActionRecordError, match=r"input 'pkg/in.txt' is both a file and a directory \(the parent of 'pkg/in.txt/x'\)"):
        build_action_record(spec(input_files={"pkg/in.txt": (HELLO, False), "pkg/in.txt/x": (WORLD, False)}))
    # Given the other way round: the directory is made first.
    with pytest.raises(ActionRecordError, match=r"input 'pkg' is both a file and a directory"):
        build_action_record(spec(input_files={"pkg/x": (WORLD, False), "pkg": (HELLO, False)}))


def test_a_symlink_that_clashes_with_a_file_or_directory_is_rejected():
    with pytest.raises(ActionRecordError, match=r"input 'pkg/in.txt' is declared both as a file and as a symlink"):
        build_action_record(spec(input_symlinks={"pkg/in.txt": "other"}))
    with pytest.raises(ActionRecordError, match=r"input 'pkg' is both a file and a directory"):
        build_action_record(spec(input_symlinks={"pkg": "elsewhere"}))


def test_an_absolute_symlink_target_is_rejected_as_a_machine_path():
    with pytest.raises(ActionRecordError, match=r"input symlink 'pkg/link' points to '/home/me/ws/x': a symlink target must be a relative path"):
        build_action_record(spec(input_symlinks={"pkg/link": "/home/me/ws/x"}))


@pytest.mark.parametrize("path, message", [
    ("../x", "output path '../x' escapes the working directory"),
    ("a/../../x", "output path 'a/../../x' escapes the working directory"),
    ("/tmp/x", "output path '/tmp/x' escapes the working directory"),
    ("a/../x", "output path 'a/../x' is not a normalised relative path"),
    ("a//x", "output path 'a//x' is not a normalised relative path"),
    ("a/x/", "output path 'a/x/' is not a normalised relative path"),
    ("", "output path '' is not a normalised relative path"),
])
def test_an_output_path_that_escapes_or_is_not_normalised_is_rejected(path, message):
    with pytest.raises(ActionRecordError) as caught:
        build_action_record(spec(output_files=(path,)))
    assert caught.value.render() == message
    with pytest.raises(ActionRecordError) as caught:
        build_action_record(spec(output_files=(), output_directories=(path,)))
    assert caught.value.render() == message


def test_an_input_path_that_escapes_is_rejected():
    with pytest.raises(ActionRecordError, match=r"^input file '../secret' escapes the working directory$"):
        build_action_record(spec(input_files={"../secret": (HELLO, False)}))


def test_outputs_that_contradict_each_other_are_rejected():
    with pytest.raises(ActionRecordError, match=r"output path 'out' is declared both as a file and as a directory"):
        build_action_record(spec(output_files=("out",), output_directories=("out",)))
    with pytest.raises(ActionRecordError, match=r"output file 'out' is also the parent directory of output 'out/x'"):
        build_action_record(spec(output_files=("out", "out.txt", "out/x")))
    with pytest.raises(ActionRecordError, match=r"output file 'out' is also the parent directory of output 'out/d/e'"):
        build_action_record(spec(output_files=("out",), output_directories=("out/d/e",)))
    # An output directory may hold another one (REAPI allows it).
    record = build_action_record(spec(output_files=(), output_directories=("tree", "tree/sub")))
    assert list(parse(record, record.command_digest, re_pb2.Command).output_paths) == ["tree", "tree/sub"]


def test_an_environment_variable_given_twice_is_rejected():
    with pytest.raises(ActionRecordError, match=r"environment variable\(s\) PATH given more than once"):
        build_action_record(spec(env=(("PATH", "/bin"), ("PATH", "/usr/bin"))))


def test_a_string_that_is_not_utf8_is_rejected():
    with pytest.raises(ActionRecordError, match=r"is not valid UTF-8 \(Remote Execution API strings are UTF-8\)"):
        build_action_record(spec(argv=("tools/run.sh", "name-\udcff")))


def test_the_record_is_immutable():
    record = build_action_record(spec())
    with pytest.raises(TypeError):
        record.blobs[record.action_digest] = b""  # type: ignore[index]
