"""The rule context (`ctx`) a rule implementation receives.

Mirrors Bazel's ctx: attr, files, file, executable, outputs, actions,
runfiles(), label, configuration and toolchains. Implementations only
declare files and register actions here; nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Mapping

from kiln.core.action_env import spawn_environment
from kiln.core.actions import Action, ActionKind, ParamFile
from kiln.core.artifacts import Artifact
from kiln.core.config import Configuration
from kiln.core.depset import Depset
from kiln.core.errors import AnalysisError, Location
from kiln.core.labels import Label
from kiln.core.providers import DefaultInfo
from kiln.core.runfiles import Runfiles


class Actions:
    """ctx.actions: declares outputs and registers the actions that make them."""

    # Holds what it needs of ctx, not ctx itself: a ctx <-> actions cycle would leave every
    # target's context to the cyclic garbage collector, which dominates analysis of large graphs.
    def __init__(self, label: Label, config: Configuration, rule_version: str,
                 exec_properties: Callable[[], tuple[tuple[str, str], ...]]):
        self._label = label
        self._config = config
        self._rule_version = rule_version
        self._exec_properties = exec_properties
        self.registered: list[Action] = []
        self._declared: dict[str, Artifact] = {}

    def declare_file(self, name: str, *, sibling: Artifact | None = None) -> Artifact:
        return self._declare(name, sibling, False)

    def declare_directory(self, name: str, *, sibling: Artifact | None = None) -> Artifact:
        """A directory output (a tree artifact): its action creates whatever files it holds."""
        return self._declare(name, sibling, True)

    def _declare(self, name: str, sibling: Artifact | None, is_directory: bool) -> Artifact:
        label = self._label
        if sibling is not None:
            path = f"{sibling.path.rsplit('/', 1)[0]}/{name}" if "/" in sibling.path else name
        else:
            pkg = label.package
            prefix = f"external/{label.repo}/" if label.repo else ""
            path = f"{prefix}{pkg}/{name}" if pkg else f"{prefix}{name}"
        known = self._declared.get(path)
        if known is not None:
            if known.is_directory != is_directory:
                kinds = ("a directory", "a file") if known.is_directory else ("a file", "a directory")
                raise AnalysisError(f"'{name}' is declared as {kinds[0]} and again as {kinds[1]}", target=str(label))
            return known
        art = Artifact(self._config.bin_dir, path, label, is_directory)
        self._declared[path] = art
        return art

    def declared(self) -> list[Artifact]:
        return list(self._declared.values())

    def run(
        self,
        *,
        outputs: Iterable[Artifact],
        argv: Iterable[str],
        inputs: Iterable[Artifact] | Depset = (),
        tools: Iterable[Any] = (),
        env: Mapping[str, str] | None = None,
        mnemonic: str = "Action",
        progress_message: str = "",
        execution_requirements: Mapping[str, str] | None = None,
        executable_outputs: bool = False,
        params: Iterable[str] | None = None,
    ) -> Action:
        """Registers a process. `tools` are configured targets or artifacts whose runfiles come along.
        `params`, one per line, go into a param file written for the spawn and named by its last argument
        (`@<first output>-0.params`, as Bazel's `use_param_file("@%s", use_always = True)`)."""
        tool_files: list[Artifact] = []
        tool_runfiles: list[tuple[Artifact, Runfiles]] = []
        for tool in tools:
            if isinstance(tool, Artifact):
                tool_files.append(tool)
                continue
            info = tool.get(DefaultInfo) or DefaultInfo()
            tool_files.extend(info.files.to_list())
            if info.executable is not None:
                tool_files.append(info.executable)
                tool_runfiles.append((info.executable, info.runfiles))
        direct_inputs = inputs if isinstance(inputs, Depset) else Depset(tuple(inputs))
        outputs = tuple(outputs)
        argv = tuple(argv)
        param_file = None
        if params is not None:
            param_file = ParamFile(f"{outputs[0].exec_path}-0.params", "".join(f"{p}\n" for p in params).encode())
            argv += (f"@{param_file.exec_path}",)
        all_inputs = Depset(tool_files, [direct_inputs]) if tool_files else direct_inputs
        action = Action(
            owner=self._label,
            mnemonic=mnemonic,
            progress_message=progress_message or f"{mnemonic} {self._label}",
            outputs=outputs,
            kind=ActionKind.SPAWN,
            inputs=all_inputs,
            argv=argv,
            env=spawn_environment(self._config.action_env, env),
            execution_requirements=tuple(sorted((execution_requirements or {}).items())),
            tool_runfiles=tuple(tool_runfiles),
            tools=tuple(tool_files),
            is_executable=executable_outputs,
            salt=self._rule_version,
            exec_properties=self._exec_properties(),
            param_file=param_file,
        )
        self.registered.append(action)
        return action

    def write(self, output: Artifact, content: str | bytes, *, is_executable: bool = False, mnemonic: str = "FileWrite") -> Action:
        self._check_file(output, "write")
        data = content.encode() if isinstance(content, str) else content
        action = Action(
            owner=self._label,
            mnemonic=mnemonic,
            progress_message=f"Writing {output.exec_path}",
            outputs=(output,),
            kind=ActionKind.WRITE,
            content=data,
            is_executable=is_executable,
            salt=self._rule_version,
        )
        self.registered.append(action)
        return action

    def copy(self, src: Artifact, output: Artifact, *, is_executable: bool = False, mnemonic: str = "Copy") -> Action:
        self._check_file(src, "copy")
        self._check_file(output, "copy")
        action = Action(
            owner=self._label,
            mnemonic=mnemonic,
            progress_message=f"Copying {src.exec_path} to {output.exec_path}",
            outputs=(output,),
            kind=ActionKind.COPY,
            inputs=Depset((src,)),
            is_executable=is_executable,
            salt=self._rule_version,
        )
        self.registered.append(action)
        return action

    def _check_file(self, art: Artifact, what: str) -> None:
        # Writes and copies are of single files: a directory would be stored as one.
        if art.is_directory:
            raise AnalysisError(f"ctx.actions.{what}: '{art.exec_path}' is a directory (declare_directory); "
                                f"{what} takes files only", target=str(self._label))


@dataclass
class RuleContext:
    label: Label
    config: Configuration
    target: Any                 # the loaded RuleTarget
    attr: SimpleNamespace       # resolved attribute values (deps as ConfiguredTargets)
    files: SimpleNamespace      # label attributes as lists of files
    file: SimpleNamespace       # single-file label attributes
    executable: SimpleNamespace  # executables of label attributes marked executable
    outputs: SimpleNamespace    # output attributes as artifacts
    toolchains: Any             # ctx.toolchains (analysis.toolchains.ToolchainContext)
    rule_version: str
    workspace_root: str
    make_variables: dict[str, str]
    # The execution platform's exec_properties merged with the target's, asked for when a spawn is registered.
    exec_properties: Callable[[], tuple[tuple[str, str], ...]] = lambda: ()
    # Reports a warning about this target (printed as "WARNING: <location>: in <target>: ...").
    report_warning: Callable[[str], None] = lambda text: None
    # Reports a line of information (printed once per command as "INFO: ...").
    report_info: Callable[[str], None] = lambda text: None

    def __post_init__(self) -> None:
        self.actions = Actions(self.label, self.config, self.rule_version, self.exec_properties)

    @property
    def location(self) -> Location:
        return self.target.location

    @property
    def bin_dir(self) -> str:
        return self.config.bin_dir

    def runfiles(
        self,
        files: Iterable[Artifact] = (),
        transitive_files: Depset | None = None,
        symlinks: Mapping[str, Artifact] | None = None,
        root_symlinks: Mapping[str, Artifact] | None = None,
    ) -> Runfiles:
        return Runfiles(
            Depset(tuple(files), [transitive_files] if transitive_files else []),
            tuple(sorted((root_symlinks or {}).items())),
            tuple(sorted((symlinks or {}).items())),
        )

    def warn(self, message: str) -> None:
        """A warning about this target, shown with its location (analysis goes on)."""
        self.report_warning(f"{self.location}: in {self.target.kind} {self.label}: {message}")

    def info(self, message: str) -> None:
        """A line of information, said once however many targets say it."""
        self.report_info(message)

    def error(self, message: str, *, attribute: str | None = None) -> AnalysisError:
        target = f"{self.target.kind} {self.label}"
        if attribute:
            target = f"{attribute} attribute of {target}"
        return AnalysisError(message, location=self.location, target=target)
