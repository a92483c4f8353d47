"""Tiny wheels built in a test, and a package index on 127.0.0.1 serving them (PEP 691 JSON or PEP 503 HTML)."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_wheel(name: str, version: str, files: dict[str, str], *, requires: tuple[str, ...] = (),
               tag: str = "py3-none-any", entry_points: str = "", extras: tuple[str, ...] = (),
               purelib: bool = True) -> tuple[str, bytes]:
    """(file name, bytes) of a wheel holding `files` (path -> text) with its dist-info: METADATA, WHEEL, RECORD."""
    dist = name.replace("-", "_").replace(".", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Provides-Extra: {e}\n" for e in extras)
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    contents = dict(files)
    contents[f"{info}/METADATA"] = metadata
    contents[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: kiln-tests\nRoot-Is-Purelib: "
                                 f"{'true' if purelib else 'false'}\nTag: {tag}\n")
    if entry_points:
        contents[f"{info}/entry_points.txt"] = entry_points
    record = []
    for path, text in contents.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = "\n".join(record) + "\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for path, text in contents.items():
            z.writestr(path, text)
    return f"{dist}-{version}-{tag}.whl", buffer.getvalue()


@dataclass
class Served:
    filename: str
    body: bytes
    sha256: str  # what the index claims; "" gives no hash
    requires_python: str = ""
    yanked: object = False


@dataclass
class IndexServer:
    """/simple/<project>/ pages and /files/<name> downloads; `html_only` answers every page as PEP 503 HTML."""

    html_only: bool = False
    projects: dict[str, list[Served]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def add(self, project: str, filename: str, body: bytes, *, claimed_sha256: str | None = None,
            requires_python: str = "", yanked: object = False) -> Served:
        served = Served(filename, body, sha256(body) if claimed_sha256 is None else claimed_sha256,
                        requires_python, yanked)
        self.projects.setdefault(project, []).append(served)
        return served

    def __enter__(self) -> "IndexServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                parts = self.path.strip("/").split("/")
                if len(parts) == 2 and parts[0] == "simple" and parts[1] in server.projects:
                    wants_json = JSON_TYPE in self.headers.get("Accept", "") and not server.html_only
                    page = server.json_page if wants_json else server.html_page
                    self.answer(page(parts[1]), JSON_TYPE if wants_json else "text/html")
                    return
                if len(parts) == 2 and parts[0] == "files":
                    for served in (s for files in server.projects.values() for s in files):
                        if served.filename == parts[1]:
                            self.answer(served.body, "application/octet-stream")
                            return
                self.send_error(404)

            def do_HEAD(self) -> None:  # uv asks before it downloads
                self.head_only = True
                self.do_GET()

            def answer(self, body: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not getattr(self, "head_only", False):
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/simple"

    def json_page(self, project: str) -> bytes:
        files = [{"filename": s.filename, "url": f"../../files/{s.filename}",
                  "hashes": {"sha256": s.sha256} if s.sha256 else {},
                  **({"requires-python": s.requires_python} if s.requires_python else {}), "yanked": s.yanked}
                 for s in self.projects[project]]
        return json.dumps({"meta": {"api-version": "1.1"}, "name": project, "files": files}).encode()

    def html_page(self, project: str) -> bytes:
        anchors = []
        for s in self.projects[project]:
            href = f"/files/{s.filename}" + (f"#sha256={s.sha256}" if s.sha256 else "")
            attrs = f' href="{html.escape(href)}"'
            if s.requires_python:
                attrs += f' data-requires-python="{html.escape(s.requires_python)}"'
            if s.yanked is not False:
                attrs += f' data-yanked="{html.escape(s.yanked if isinstance(s.yanked, str) else "")}"'
            anchors.append(f"<a{attrs}>{s.filename}</a><br/>")
        return f"<!DOCTYPE html><html><body>{''.join(anchors)}</body></html>".encode()


def write_files(directory: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (directory / name).write_bytes(data)
