"""What the query engine needs from the outside world: targets by pattern and by label.

The engine never reads BUILD files itself. The command that runs a query
implements `QueryEnvironment` on top of the package loader; tests implement
it over an in-memory graph. Both methods raise KilnError (no such package,
no such target, malformed pattern) and may load packages lazily.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kiln.core.labels import Label
from kiln.loading.package import Target


@runtime_checkable
class QueryEnvironment(Protocol):
    def resolve_pattern(self, text: str) -> list[Target]:
        """The targets a target-pattern word names.

        `text` is one word of the query as written: `//pkg:t`, `//pkg:all`,
        `//pkg:*`, `//pkg/...`, `:t` or `t` (relative to the working
        directory), `@repo//pkg:t`. The engine also asks for `//pkg:all` (all
        rules: used to expand a test_suite with empty `tests`) and `//pkg:*`
        (all targets: `siblings`), with `@@repo//` for external packages.
        """
        ...

    def get_target(self, label: Label) -> Target:
        """The target named by a canonical label, loading its package as needed."""
        ...
