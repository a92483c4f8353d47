"""kiln's own encoding of the REAPI messages it hashes gives protobuf's deterministic bytes exactly.

Random messages (strings with multi-byte UTF-8, sizes across varint lengths, empty and missing
fields, timeouts of zero and with nanoseconds) are encoded both ways and compared byte for byte,
and a whole action record is rebuilt from protobuf objects and must have the same digests.
"""

from __future__ import annotations

import random

import pytest

from kiln.core.digests import Digest, digest_bytes
from kiln.execution import reapi_encoding as encode
from kiln.execution.action_record import ActionSpec, build_action_record
from kiln.execution.reapi import remote_execution_pb2 as re_pb2

_ALPHABET = "abcXYZ019_-./=é€😀 "


def _text(rng: random.Random, empty_ok: bool = True) -> str:
    n = rng.randint(0 if empty_ok else 1, 12)
    return "".join(rng.choice(_ALPHABET) for _ in range(n))


def _digest(rng: random.Random) -> Digest:
    size = rng.choice([0, 1, 127, 128, 300, 16383, 16384, 2**31, 2**40 + 5])
    return Digest(rng.getrandbits(256).to_bytes(32, "big").hex(), size)


def _proto(d: Digest) -> re_pb2.Digest:
    return re_pb2.Digest(hash=d.hash, size_bytes=d.size)


def _props(rng: random.Random) -> list[tuple[str, str]]:
    return sorted((_text(rng, False), _text(rng)) for _ in range(rng.randint(0, 3)))


@pytest.mark.parametrize("seed", range(60))
def test_command_matches_protobuf(seed):
    rng = random.Random(seed)
    argv = tuple(_text(rng) for _ in range(rng.randint(0, 6)))
    env = sorted((_text(rng, False), _text(rng)) for _ in range(rng.randint(0, 4)))
    files = sorted(_text(rng, False) for _ in range(rng.randint(0, 3)))
    dirs = sorted(_text(rng, False) for _ in range(rng.randint(0, 2)))
    props = _props(rng)
    ours = encode.command(argv, env, files, dirs, sorted(files + dirs), props)
    message = re_pb2.Command(
        arguments=argv,
        environment_variables=[re_pb2.Command.EnvironmentVariable(name=n, value=v) for n, v in env],
        output_files=files, output_directories=dirs, output_paths=sorted(files + dirs))
    if props:
        message.platform.CopyFrom(re_pb2.Platform(properties=[re_pb2.Platform.Property(name=n, value=v)
                                                              for n, v in props]))
    assert ours == message.SerializeToString(deterministic=True)


@pytest.mark.parametrize("seed", range(60))
def test_directory_and_tree_match_protobuf(seed):
    rng = random.Random(seed)
    files = [(_text(rng, False), _digest(rng), rng.random() < 0.5) for _ in range(rng.randint(0, 4))]
    dirs = [(_text(rng, False), _digest(rng)) for _ in range(rng.randint(0, 3))]
    links = [(_text(rng, False), _text(rng, False)) for _ in range(rng.randint(0, 2))]
    ours = encode.directory(files, dirs, links)
    message = re_pb2.Directory(
        files=[re_pb2.FileNode(name=n, digest=_proto(d), is_executable=x) for n, d, x in files],
        directories=[re_pb2.DirectoryNode(name=n, digest=_proto(d)) for n, d in dirs],
        symlinks=[re_pb2.SymlinkNode(name=n, target=t) for n, t in links])
    assert ours == message.SerializeToString(deterministic=True)
    child = encode.directory(files[:1], [], [])
    tree = re_pb2.Tree(root=message, children=[re_pb2.Directory.FromString(child)] * rng.randint(0, 2))
    assert encode.tree(ours, [child] * len(tree.children)) == tree.SerializeToString(deterministic=True)


@pytest.mark.parametrize("seed", range(60))
def test_action_matches_protobuf(seed):
    rng = random.Random(seed)
    command, root = _digest(rng), _digest(rng)
    timeout = rng.choice([None, 0, 1_000_000_000, 90_000_000_001, 1_500, 3_600 * 10**9])
    do_not_cache = rng.random() < 0.5
    salt = rng.choice([b"", b"rule=py_binary-1", bytes(range(256))])
    props = _props(rng)
    message = re_pb2.Action(command_digest=_proto(command), input_root_digest=_proto(root),
                            do_not_cache=do_not_cache, salt=salt)
    if timeout is not None:
        message.timeout.FromNanoseconds(timeout)
    if props:
        message.platform.CopyFrom(re_pb2.Platform(properties=[re_pb2.Platform.Property(name=n, value=v)
                                                              for n, v in props]))
    assert encode.action(command, root, timeout, do_not_cache, salt, props) == \
        message.SerializeToString(deterministic=True)


def test_a_whole_record_has_the_digests_protobuf_gives():
    content = {f"pkg/sub{i % 3}/f{i}.txt": (digest_bytes(b"%d" % i), i % 2 == 0) for i in range(20)}
    spec = ActionSpec(argv=("/bin/sh", "-c", "cat $@"), env=(("PATH", "/bin"), ("LANG", "C.UTF-8")),
                      output_files=("out/a",), output_directories=("out/d",), input_files=content,
                      input_symlinks={"pkg/link": "sub0/f0.txt"}, platform=(("OSFamily", "linux"),),
                      timeout_seconds=12.5, do_not_cache=True, salt=b"s")
    record = build_action_record(spec)
    for digest, data in record.blobs.items():
        assert digest_bytes(data) == digest
    action = re_pb2.Action.FromString(record.blobs[record.action_digest])
    assert action.SerializeToString(deterministic=True) == record.blobs[record.action_digest]
    assert action.timeout.ToNanoseconds() == 12_500_000_000
    command = re_pb2.Command.FromString(record.blobs[record.command_digest])
    assert command.SerializeToString(deterministic=True) == record.blobs[record.command_digest]
    assert list(command.output_paths) == ["out/a", "out/d"]
    # Every Directory, read back by protobuf and written again, is the same bytes.
    root = re_pb2.Directory.FromString(record.blobs[record.input_root_digest])
    assert [d.name for d in root.directories] == ["pkg"]
    for digest, data in record.blobs.items():
        if digest not in (record.action_digest, record.command_digest):
            assert re_pb2.Directory.FromString(data).SerializeToString(deterministic=True) == data
