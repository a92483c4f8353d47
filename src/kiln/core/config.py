"""Build configurations: the settings that shape what an action does.

A configuration is a frozen value: its name picks the output directory
(`kiln-out/k8-fastbuild/bin`), its fields feed select() and action keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

@dataclass(frozen=True)
class Configuration:
    compilation_mode: str = "fastbuild"
    cpu: str = "k8"
    # --define name=value pairs, sorted.
    defines: tuple[tuple[str, str], ...] = ()
    # Starlark flag values set on the command line, by canonical label text, sorted.
    flags: tuple[tuple[str, str], ...] = ()
    # --action_env values resolved against the client environment, sorted.
    action_env: tuple[tuple[str, str], ...] = ()
    # Native options a config_setting's `values` may test (name -> value as written).
    options: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        return f"{self.cpu}-{self.compilation_mode}"

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

    def option(self, name: str) -> str | None:
        if name == "compilation_mode":
            return self.compilation_mode
        if name == "cpu":
            return self.cpu
        for k, v in self.options:
            if k == name:
                return v
        return None
