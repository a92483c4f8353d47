"""Build configurations: everything that can change an output, as one frozen value.

All fields take part in equality and in the configuration's id. The top-level
configuration's output directory is `<cpu>-<mode>` (`kiln-out/k8-fastbuild`);
a configuration a transition made carries a digest of what the transitions
changed (`k8-fastbuild-ST-1a2b3c4d5e6f`), and the exec configuration, which
builds tools for the execution platform, is `<cpu>-opt-exec-<digest>`: two
configurations never share an output directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from functools import cached_property

# Platform labels are kept in canonical form, so `--platforms=@platforms//host` is the default configuration.
HOST_PLATFORM = "@platforms//host:host"

# The native options a configuration holds besides its own fields (compilation_mode, cpu, platforms,
# define), sorted: the ones kiln accepts that change what actions produce, and so the ones a
# config_setting(values = ...) may test. --stamp (rules_python's and rules_rust's stamp detection and
# skylib's selects.with_or test it); the toolchains and execution platforms considered before the registered
# ones. Options that change only how kiln runs (--jobs, --keep_going, sandbox, test and UI options) stay
# out: they must not change the configuration's id, or equal outputs would be built twice.
CONFIGURATION_OPTIONS = ("extra_execution_platforms", "extra_toolchains", "stamp")
# config_setting's names for the options that are fields of their own.
_OPTION_FIELDS = {"compilation_mode": "compilation_mode", "cpu": "cpu", "platforms": "platform"}


@dataclass(frozen=True)
class Configuration:
    compilation_mode: str = "fastbuild"
    cpu: str = "k8"
    # The target platform's label (--platforms).
    platform: str = HOST_PLATFORM
    # --define name=value pairs, sorted.
    defines: tuple[tuple[str, str], ...] = ()
    # Starlark flag values set on the command line or by transitions, by canonical label text, sorted.
    flags: tuple[tuple[str, str], ...] = ()
    # --action_env values resolved against the client environment, sorted.
    action_env: tuple[tuple[str, str], ...] = ()
    # CONFIGURATION_OPTIONS' values (name, value), by name; a repeatable option has a pair per value,
    # in command-line order, and none when it is empty; booleans are "true" or "false". The default is
    # the command line's defaults, as for every field.
    options: tuple[tuple[str, str], ...] = (("stamp", "false"),)
    # Builds tools for the execution platform (an attribute's cfg = "exec").
    is_exec: bool = False
    # (field, value) pairs transitions changed from the top-level configuration, sorted.
    transitioned: tuple[tuple[str, str], ...] = ()

    # Cached: artifacts of exec and transitioned configurations ask for their directory once per file.
    # (cached_property writes the instance dict directly, so it works on a frozen dataclass.)
    @cached_property
    def name(self) -> str:
        """The output directory's name (Bazel's "mnemonic")."""
        if self.is_exec:
            return f"{self.cpu}-opt-exec-{self.id[:8]}"
        base = f"{self.cpu}-{self.compilation_mode}"
        if self.transitioned:
            return f"{base}-ST-{_digest(repr(self.transitioned))[:12]}"
        return base

    @cached_property
    def id(self) -> str:
        """A digest of every field: the configuration's identity (cquery shows its first 7 characters)."""
        return _digest(repr(dataclasses.astuple(self)))

    @property
    def short_id(self) -> str:
        return self.id[:7]

    @property
    def output_dir(self) -> str:
        return f"kiln-out/{self.name}"

    @property
    def bin_dir(self) -> str:
        return f"{self.output_dir}/bin"

    @property
    def genfiles_dir(self) -> str:
        return self.bin_dir

    def flag(self, label: str) -> str | None:
        for k, v in self.flags:
            if k == label:
                return v
        return None

    def define(self, name: str) -> str | None:
        for k, v in self.defines:
            if k == name:
                return v
        return None

    def option_values(self, name: str) -> tuple[str, ...] | None:
        """The values of a native option config_setting(values = ...) may test; None for any other name."""
        if name in _OPTION_FIELDS:
            return (getattr(self, _OPTION_FIELDS[name]),)
        if name in CONFIGURATION_OPTIONS:
            return tuple(v for k, v in self.options if k == name)
        return None

    def with_flags(self, changes: dict[str, str]) -> Configuration:
        """The configuration a transition setting these Starlark flags leads to."""
        flags = dict(self.flags)
        flags.update(changes)
        marks = dict(self.transitioned)
        marks.update(changes)
        new = dataclasses.replace(self, flags=tuple(sorted(flags.items())), transitioned=tuple(sorted(marks.items())))
        return self if new.flags == self.flags else new

    def exec_configuration(self, exec_platform: str = HOST_PLATFORM) -> Configuration:
        """Where tools for this configuration's actions are built: optimised, for the execution platform.

        Starlark flags and --define values carry over (as in Bazel); transitions' marks do not.
        """
        return Configuration(
            compilation_mode="opt",
            cpu=self.cpu,
            platform=exec_platform,
            defines=self.defines,
            flags=self.flags,
            action_env=self.action_env,
            options=self.options,
            is_exec=True,
        )

    def describe(self) -> str:
        """What `kiln config ID` prints: every field with its value."""
        lines = [f"Configuration {self.id}", f"  output directory: {self.output_dir}"]
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                lines.append(f"  {f.name}:" + ("" if value else " (none)"))
                lines.extend(f"    {k}={v}" for k, v in value)
            else:
                lines.append(f"  {f.name}: {value}")
        return "\n".join(lines)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
