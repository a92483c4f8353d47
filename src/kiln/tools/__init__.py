"""Programs kiln's actions run (`python -m kiln.tools.<tool> ...`).

A tool runs in an action's process, not in kiln's: it reads its arguments
(usually a spec file written by the analysis), does one job and reports
through its exit code and stderr.
"""
