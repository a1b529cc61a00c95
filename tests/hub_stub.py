"""A small in-memory stand-in for the Hugging Face Hub API, for integration tests on loopback.

It implements the routes that ``HfApi.create_repo`` / ``upload_folder``, ``DatasetCard.load``
and ``datasets.load_dataset`` use (legacy LFS uploads: set ``HF_HUB_DISABLE_XET=1``). It tracks
private API details of huggingface_hub and may need care when that library changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_SUFFIXES = (".parquet", ".safetensors", ".bin", ".arrow")


class Repo:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.commits: list[str] = ["0" * 40]

    @property
    def sha(self) -> str:
        return self.commits[-1]


class HubStub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.log: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, code, body=b"", headers=None, head=False):
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                    headers = {"Content-Type": "application/json", **(headers or {})}
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _missing(self, what="EntryNotFound", head=False):
                self._send(404, {"error": what}, {"X-Error-Code": what, "X-Error-Message": what}, head=head)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_HEAD(self):
                self.do_GET(head=True)

            def do_GET(self, head=False):
                url = urllib.parse.urlparse(self.path)
                path = urllib.parse.unquote(url.path)
                stub.log.append(f"{'HEAD' if head else 'GET'} {path}")
                parts = path.strip("/").split("/")
                if path == "/api/agent-harnesses":
                    return self._missing(head=head)
                if parts[:2] == ["api", "datasets"] and len(parts) >= 4:
                    repo_id = "/".join(parts[2:4])
                    repo = stub.repos.get(repo_id)
                    if repo is None:
                        return self._missing("RepoNotFound", head)
                    rest = parts[4:]
                    if not rest or rest[0] == "revision":
                        if rest and rest[1] not in ("main", repo.sha):
                            return self._missing("RevisionNotFound", head)
                        return self._send(200, {"id": repo_id, "sha": repo.sha, "private": False, "disabled": False,
                                                "siblings": [{"rfilename": f} for f in sorted(repo.files)],
                                                "tags": [], "downloads": 0, "likes": 0,
                                                "lastModified": "2026-11-23T00:00:00.000Z"}, head=head)
                    if rest[0] == "tree":
                        rev, sub = rest[1], "/".join(rest[2:])
                        if rev not in ("main", repo.sha):
                            return self._missing("RevisionNotFound", head)
                        recursive = "recursive=true" in (url.query or "").lower() or "recursive=True" in url.query
                        entries = stub.tree(repo, sub, recursive)
                        if entries is None:
                            return self._missing(head=head)
                        return self._send(200, entries, head=head)
                if len(parts) >= 6 and parts[0] == "datasets" and parts[3] == "resolve":
                    repo = stub.repos.get("/".join(parts[1:3]))
                    if repo is None:
                        return self._missing("RepoNotFound", head)
                    file_path = "/".join(parts[5:])
                    if parts[4] not in ("main", repo.sha) or file_path not in repo.files:
                        return self._missing(head=head)
                    data = repo.files[file_path]
                    etag = hashlib.sha256(data).hexdigest()
                    return self._send(200, data, {"ETag": f'"{etag}"', "X-Repo-Commit": repo.sha,
                                                  "Content-Type": "application/octet-stream"}, head=head)
                return self._missing(head=head)

            def do_PUT(self):
                path = urllib.parse.urlparse(self.path).path
                stub.log.append(f"PUT {path}")
                if path.startswith("/lfs-upload/"):
                    stub.blobs[path.rsplit("/", 1)[1]] = self._body()
                    return self._send(200, {})
                return self._missing()

            def do_POST(self):
                url = urllib.parse.urlparse(self.path)
                path = urllib.parse.unquote(url.path)
                stub.log.append(f"POST {path}")
                body = self._body()
                parts = path.strip("/").split("/")
                base = f"http://{self.headers['Host']}"
                if path == "/api/repos/create":
                    req = json.loads(body)
                    repo_id = f"{req['organization']}/{req['name']}" if req.get("organization") else req["name"]
                    if repo_id in stub.repos:
                        return self._send(409, {"error": "You already created this dataset repo", "url": repo_id})
                    stub.repos[repo_id] = Repo()
                    return self._send(200, {"url": f"{base}/datasets/{repo_id}", "name": repo_id})
                if path == "/api/validate-yaml":
                    return self._send(200, {"errors": [], "warnings": []})
                if path.endswith(".git/info/lfs/objects/batch"):
                    req = json.loads(body)
                    objects = [{"oid": o["oid"], "size": o["size"],
                                "actions": {"upload": {"href": f"{base}/lfs-upload/{o['oid']}"}}}
                               for o in req["objects"] if o["oid"] not in stub.blobs]
                    objects += [{"oid": o["oid"], "size": o["size"]} for o in req["objects"] if o["oid"] in stub.blobs]
                    return self._send(200, {"transfer": "basic", "objects": objects},
                                      {"Content-Type": "application/vnd.git-lfs+json"})
                if parts[:2] == ["api", "datasets"] and len(parts) >= 6:
                    repo = stub.repos.get("/".join(parts[2:4]))
                    if repo is None:
                        return self._missing("RepoNotFound")
                    action = parts[4]
                    if action == "preupload":
                        files = json.loads(body)["files"]
                        return self._send(200, {"files": [
                            {"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) else "regular",
                             "shouldIgnore": False, "oid": None} for f in files], "commitOid": repo.sha})
                    if action == "paths-info":
                        form = urllib.parse.parse_qs(body.decode())
                        paths = form.get("paths", [])
                        return self._send(200, [e for p in paths for e in (stub.entry(repo, p) or [])])
                    if action == "commit":
                        return self._commit(repo, body, base, "/".join(parts[2:4]))
                return self._missing()

            def _commit(self, repo: Repo, body: bytes, base: str, repo_id: str):
                staged = dict(repo.files)
                for line in body.decode().splitlines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    key, value = item["key"], item["value"]
                    if key == "header":
                        parent = value.get("parentCommit")
                        if parent and parent != repo.sha:
                            return self._send(412, {"error": "parent commit is not the head"})
                    elif key == "file":
                        staged[value["path"]] = base64.b64decode(value["content"])
                    elif key == "lfsFile":
                        if value["oid"] not in stub.blobs:
                            return self._send(422, {"error": f"lfs object {value['oid']} was never uploaded"})
                        staged[value["path"]] = stub.blobs[value["oid"]]
                    elif key == "deletedFile":
                        staged.pop(value["path"], None)
                    elif key == "deletedFolder":
                        prefix = value["path"].rstrip("/") + "/"
                        staged = {p: d for p, d in staged.items() if not p.startswith(prefix)}
                repo.files = staged
                sha = hashlib.sha1(json.dumps(sorted((p, hashlib.sha1(d).hexdigest()) for p, d in staged.items()))
                                   .encode() + repo.sha.encode()).hexdigest()
                repo.commits.append(sha)
                return self._send(200, {"commitUrl": f"{base}/datasets/{repo_id}/commit/{sha}", "commitOid": sha,
                                        "pullRequestUrl": None})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @staticmethod
    def _file_entry(path: str, data: bytes) -> dict:
        entry = {"type": "file", "path": path, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
        if path.endswith(LFS_SUFFIXES):
            entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return entry

    def entry(self, repo: Repo, path: str) -> list[dict] | None:
        path = path.strip("/")
        if path in repo.files:
            return [self._file_entry(path, repo.files[path])]
        if any(p.startswith(path + "/") for p in repo.files):
            return [{"type": "directory", "path": path, "oid": "0" * 40}]
        return None

    def tree(self, repo: Repo, sub: str, recursive: bool) -> list[dict] | None:
        sub = sub.strip("/")
        prefix = sub + "/" if sub else ""
        if sub and not any(p.startswith(prefix) for p in repo.files):
            return None
        out, dirs = [], set()
        for path in sorted(repo.files):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix):].split("/")
            for depth in range(1, len(rest)):
                d = prefix + "/".join(rest[:depth])
                if d not in dirs and (recursive or depth == 1):
                    dirs.add(d)
                    out.append({"type": "directory", "path": d, "oid": "0" * 40})
            if recursive or len(rest) == 1:
                out.append(self._file_entry(path, repo.files[path]))
        return out

    def __enter__(self) -> "HubStub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
