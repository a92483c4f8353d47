"""A wheel unpacked once as rules_python's whl_library lays it out, its BUILD file, and a program importing it."""

from __future__ import annotations

import pytest
from pip_wheels import make_wheel

from kiln.repos.pip_target import TargetRuntime
from kiln.repos.runtime_probe import probe
from kiln.repos.wheel_repo import ConsoleScript, WheelError, console_scripts, hub_package, unpack_wheel

HOST = TargetRuntime.from_record(probe())
WIN = TargetRuntime.from_record({**probe(), "sys_platform": "win32", "platform": "win-amd64", "libc": []})

ALPHA_REQUIRES = ("Beta_Lib>=1", 'pywin32>=300 ; sys_platform == "win32"', 'gamma ; extra == "fast"',
                  'alpha[fast] ; extra == "all"')


def alpha_wheel(tmp_path):
    name, data = make_wheel(
        "Alpha", "2.0", {"alpha/__init__.py": "from beta_lib import WORD\nGREETING = 'alpha+' + WORD\n",
                         "alpha/data.json": "{}\n", "alpha/has space.txt": "x\n"},
        requires=ALPHA_REQUIRES, extras=("fast", "all"),
        entry_points="[console_scripts]\nalpha-cli = alpha.cli:main\n[gui_scripts]\nalpha-gui = alpha.gui:run\n")
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_the_repository_layout_and_build_file(tmp_path):
    wheel = alpha_wheel(tmp_path)
    repo = tmp_path / "repo"
    got = unpack_wheel(wheel, repo, hub="pypi", target=HOST, pinned={"beta-lib"})
    assert (got.name, got.version, got.deps) == ("alpha", "2.0", ("beta-lib",))
    assert (repo / "site-packages" / "alpha" / "__init__.py").is_file()
    assert (repo / "site-packages" / "Alpha-2.0.dist-info" / "METADATA").is_file()
    assert (repo / wheel.name).read_bytes() == wheel.read_bytes()
    assert sorted(p.name for p in (repo / "bin").iterdir()) == ["alpha-cli", "alpha-gui"]
    assert (repo / "bin" / "alpha-cli").read_text().startswith("#!/dev/null")
    build = (repo / "BUILD.bazel").read_text()
    assert 'deps = ["@pypi//beta_lib"],' in build
    assert 'data = ["@pypi//beta_lib:whl"],' in build
    assert f'srcs = ["{wheel.name}"],' in build
    assert 'imports = ["site-packages"],' in build
    assert 'tags = ["pypi_name=alpha", "pypi_version=2.0"],' in build
    assert console_scripts(repo) == (ConsoleScript("alpha-cli", "alpha.cli", "main"),)


def test_requires_dist_follows_the_target_and_the_extras(tmp_path):
    wheel = alpha_wheel(tmp_path)
    pinned = {"beta-lib", "gamma", "pywin32"}
    on_windows = unpack_wheel(wheel, tmp_path / "win", hub="pypi", target=WIN, pinned=pinned)
    assert on_windows.deps == ("beta-lib", "pywin32")
    with_extra = unpack_wheel(wheel, tmp_path / "fast", hub="pypi", target=HOST, extras=["Fast"], pinned=pinned)
    assert with_extra.deps == ("beta-lib", "gamma")
    # alpha[all] asks for alpha[fast]: the package itself is not its own dependency.
    assert unpack_wheel(wheel, tmp_path / "all", hub="pypi", target=HOST, extras=["all"], pinned=pinned).deps == \
        ("beta-lib",)


def test_a_dependency_the_lock_does_not_pin(tmp_path):
    wheel = alpha_wheel(tmp_path)
    with pytest.raises(WheelError) as e:
        unpack_wheel(wheel, tmp_path / "repo", hub="pypi", target=WIN, pinned={"beta-lib"})
    assert e.value.render() == (
        f"alpha==2.0 requires pywin32 on {WIN.describe()}, which the lock does not pin for it: add it to the lock "
        "(compiling the lock for this platform writes every dependency)")


def test_unpacked_once_and_the_build_file_follows_the_hub(tmp_path):
    wheel = alpha_wheel(tmp_path)
    repo = tmp_path / "repo"
    unpack_wheel(wheel, repo, hub="pypi", target=HOST, pinned={"beta-lib"})
    planted = repo / "site-packages" / "alpha" / "planted.py"
    planted.write_text("# not from the wheel\n")
    unpack_wheel(wheel, repo, hub="other_hub", target=HOST, pinned={"beta-lib"})
    assert planted.exists()  # not unpacked again
    assert 'deps = ["@other_hub//beta_lib"],' in (repo / "BUILD.bazel").read_text()
    # A directory whose unpack did not finish (no marker) is unpacked again.
    (repo / ".kiln-wheel").unlink()
    unpack_wheel(wheel, repo, hub="pypi", target=HOST, pinned={"beta-lib"})
    assert not planted.exists()


def test_a_file_that_is_not_a_wheel(tmp_path):
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(WheelError) as e:
        unpack_wheel(bad, tmp_path / "repo", hub="pypi", target=HOST, pinned=set())
    assert e.value.render() == "bad-1.0-py3-none-any.whl is not a valid wheel: File is not a zip file"
    assert not (tmp_path / "repo").exists()


def test_hub_package_names_as_rules_python():
    assert hub_package("Foo.Bar") == hub_package("foo_bar") == hub_package("FOO--bar") == "foo_bar"


def test_a_program_imports_the_unpacked_wheels_through_their_build_files(ws, tmp_path):
    """The BUILD files load in kiln and a py_binary depending on @hub//alpha runs with alpha and beta_lib."""
    alpha = alpha_wheel(tmp_path)
    beta_name, beta_data = make_wheel("beta-lib", "1.5", {"beta_lib/__init__.py": "WORD = 'beta'\n"})
    beta = tmp_path / beta_name
    beta.write_bytes(beta_data)
    unpack_wheel(alpha, tmp_path / "pypi_alpha", hub="pypi", target=HOST, pinned={"beta-lib"})
    unpack_wheel(beta, tmp_path / "pypi_beta_lib", hub="pypi", target=HOST, pinned=set())
    hub = tmp_path / "hub"
    for package in ("alpha", "beta_lib"):
        (hub / package).mkdir(parents=True)
        (hub / package / "BUILD.bazel").write_text(
            'package(default_visibility = ["//visibility:public"])\n'
            f'alias(name = "{package}", actual = "@pypi_{package}//:pkg")\n'
            f'alias(name = "whl", actual = "@pypi_{package}//:whl")\n')
    ws.write("WORKSPACE", f'''
        local_repository(name = "pypi", path = "{hub}")
        local_repository(name = "pypi_alpha", path = "{tmp_path / 'pypi_alpha'}")
        local_repository(name = "pypi_beta_lib", path = "{tmp_path / 'pypi_beta_lib'}")
    ''')
    ws.write("app/BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_binary")
        py_binary(name = "main", srcs = ["main.py"], deps = ["@pypi//alpha"])
        filegroup(name = "wheels", srcs = ["@pypi//alpha:whl"])
    ''')
    ws.write("app/main.py", '''
        import importlib.resources
        import alpha
        print(alpha.GREETING, importlib.resources.files("alpha").joinpath("data.json").read_text().strip())
    ''')
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "alpha+beta {}"
    r = ws.kiln("build", "//app:wheels")
    assert r.code == 0, r.output
    assert "Traceback" not in r.output


def test_from_a_lock_to_unpacked_repositories(tmp_path):
    """The layers composed as pip.parse will compose them: lock -> pins for a target -> index -> wheel -> repo."""
    from pip_wheels import IndexServer, sha256

    from kiln.repos.downloader import Downloader
    from kiln.repos.pip_index import IndexConfig, download, lock_index, project_files
    from kiln.repos.pip_lock import parse_lock, pins_for
    from kiln.repos.repository_cache import RepositoryCache
    from kiln.repos.wheel_select import WheelChoice, select_wheel

    alpha = alpha_wheel(tmp_path)
    beta_any = make_wheel("beta-lib", "1.5", {"beta_lib/__init__.py": "WORD = 'any'\n"})
    beta_here = make_wheel("beta-lib", "1.5", {"beta_lib/__init__.py": "WORD = 'here'\n"},
                           tag=str(HOST.tags()[0]), purelib=False)
    with IndexServer() as index:
        index.add("alpha", alpha.name, alpha.read_bytes())
        for name, data in (beta_any, beta_here):
            index.add("beta-lib", name, data)
        lock = parse_lock(
            f"--index-url {index.url}\n"
            f"alpha==2.0 --hash=sha256:{sha256(alpha.read_bytes())}\n"
            f"beta-lib==1.5 --hash=sha256:{sha256(beta_any[1])} --hash=sha256:{sha256(beta_here[1])}\n"
            f'pywin32==306 ; sys_platform == "win32" --hash=sha256:{"0" * 64}\n', "requirements_lock.txt")
        pins = pins_for(lock, HOST.marker_environment(), HOST.describe())
        assert sorted(pins) == ["alpha", "beta-lib"]
        downloader = Downloader(RepositoryCache(tmp_path / "cache"))
        for pin in pins.values():
            choice = select_wheel(project_files(lock_index(lock, IndexConfig("", (), "")), pin.name), pin, HOST)
            assert isinstance(choice, WheelChoice)
            wheel = download(downloader, choice.file, pinned=f"{pin.name}=={pin.version}", allowed=pin.hashes,
                             output=tmp_path / "downloads" / choice.file.filename)
            unpack_wheel(wheel, tmp_path / f"pypi_{pin.name}", hub="pypi", target=HOST, pinned=set(pins))
    # The wheel for this very runtime beats the pure one.
    assert (tmp_path / "pypi_beta-lib" / "site-packages" / "beta_lib" / "__init__.py").read_text() == "WORD = 'here'\n"
    assert 'deps = ["@pypi//beta_lib"],' in (tmp_path / "pypi_alpha" / "BUILD.bazel").read_text()
