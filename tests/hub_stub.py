"""A small stand-in for the Hugging Face Hub API on loopback, for integration tests and manual trials.

Model, dataset and Space repos, with a commit history: every commit gets a stable sha and any past
sha still resolves to the files it had. It implements what ``HfApi`` (create/delete repo, info,
tree, paths-info, refs, commits, branches, ``create_commit``/``upload_folder`` with legacy LFS),
``hf_hub_download``/``snapshot_download``, ``ModelCard``/``DatasetCard``, ``datasets.load_dataset``
and ``PeftModel.from_pretrained`` use. There is no Xet: clients must set ``HF_HUB_DISABLE_XET=1``.

Routes (``{t}`` is ``models``, ``datasets`` or ``spaces``; ``{p}`` is ``""``, ``datasets/`` or ``spaces/``)::

    POST   /api/repos/create                     DELETE /api/repos/delete
    PUT    /api/{t}/{id}/settings                GET    /api/whoami-v2
    GET    /api/{t}/{id}[/revision/{rev}]        GET    /api/{t}/{id}/tree/{rev}[/{path}]
    POST   /api/{t}/{id}/paths-info/{rev}        POST   /api/{t}/{id}/preupload/{rev}
    POST   /api/{t}/{id}/commit/{rev}            GET    /api/{t}/{id}/refs
    GET    /api/{t}/{id}/commits/{rev}           POST|DELETE /api/{t}/{id}/branch/{name}
    POST   /{p}{id}.git/info/lfs/objects/batch   PUT    /lfs-upload/{sha256}
    GET|HEAD /{p}{id}/resolve/{rev}/{path}       POST   /api/validate-yaml, GET /api/agent-harnesses (404)

Repo ids must be namespaced (``org/name``). Any ``Authorization`` header counts as a valid token:
private repos are invisible without one (401 ``RepoNotFound``, as on the Hub) and every write needs
one. ``HubStub.requests`` records each request with its headers so tests can check that a token was
sent; error bodies never contain header values. Run ``python -m tests.hub_stub [--port N] [--root DIR]``
for manual trials; ``--root`` keeps repos on disk so that a restarted stub sees what was pushed
(one stub per root at a time).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LFS_SUFFIXES = (".parquet", ".safetensors", ".bin", ".png", ".arrow")
LFS_MIN_SIZE = 10 * 1024 * 1024  # the Hub refuses larger regular files
TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
SPACE_SDKS = ("gradio", "docker", "static", "streamlit")
USER = "stub-user"
GITATTRIBUTES = "".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n" for s in LFS_SUFFIXES).encode()

_T = "(models|datasets|spaces)"
_ID = "([^/]+/[^/]+)"
_P = "(datasets/|spaces/)?"


class HubError(Exception):
    """An error answer: status, ``X-Error-Code`` (may be empty) and a message that names no secret."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


class BlobStore:
    """Content-addressed bytes (key: sha256), in memory and, with a root, on disk."""

    def __init__(self, root: Path | None) -> None:
        self.root, self.mem = root, {}
        if root is not None:
            (root / "blobs").mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        oid = hashlib.sha256(data).hexdigest()
        self.mem[oid] = data
        if self.root is not None and not (self.root / "blobs" / oid).exists():
            tmp = self.root / "blobs" / f".{oid}.{threading.get_ident()}"
            tmp.write_bytes(data)
            os.replace(tmp, self.root / "blobs" / oid)
        return oid

    def get(self, oid: str) -> bytes | None:
        if oid not in self.mem and self.root is not None and (self.root / "blobs" / oid).is_file():
            self.mem[oid] = (self.root / "blobs" / oid).read_bytes()
        return self.mem.get(oid)

    def __contains__(self, oid: str) -> bool:
        return self.get(oid) is not None


@dataclass
class Commit:
    sha: str
    parent: str | None
    title: str
    message: str
    date: str
    files: dict[str, list] = field(default_factory=dict)  # path -> [sha256 of content, stored as LFS]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool = False
    sdk: str | None = None
    created: str = ""
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    store: BlobStore | None = field(default=None, repr=False, compare=False)

    def resolve(self, revision: str) -> Commit | None:
        """A branch name or a full commit sha of this repo."""
        sha = self.branches.get(revision, revision)
        return self.commits.get(sha)

    @property
    def sha(self) -> str:
        return self.branches["main"]

    @property
    def files(self) -> dict[str, bytes]:
        """Contents of the files at the head of ``main``."""
        return self.files_at("main")

    def files_at(self, revision: str) -> dict[str, bytes]:
        return {p: self.store.get(oid) for p, (oid, _) in self.resolve(revision).files.items()}

    def add_commit(self, branch: str, files: dict[str, list], title: str, message: str = "") -> Commit:
        parent = self.branches.get(branch)
        sha = hashlib.sha1(
            json.dumps([self.repo_type, self.repo_id, parent, title, message, sorted(files.items())]).encode()
        ).hexdigest()
        self.commits[sha] = Commit(sha, parent, title, message, _now(), dict(files))
        self.branches[branch] = sha
        return self.commits[sha]

    def url(self, base: str) -> str:
        return f"{base}/{PREFIX[self.repo_type]}{self.repo_id}"

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "store"}

    @classmethod
    def from_dict(cls, d: dict, store: BlobStore) -> Repo:
        commits = {sha: Commit(**c) for sha, c in d.pop("commits").items()}
        return cls(**d, commits=commits, store=store)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


@dataclass
class Request:
    method: str
    path: str  # still percent-encoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base: str

    @property
    def authorized(self) -> bool:
        return bool(self.headers.get("authorization"))

    def json(self):
        return json.loads(self.body or b"{}")

    def flag(self, name: str) -> bool:
        return self.query.get(name, [""])[0].lower() in ("1", "true")


class HubStub:
    """The stub server. Use as a context manager; ``url`` is its endpoint (for ``HF_ENDPOINT``).

    Args:
        port: TCP port on 127.0.0.1; 0 picks a free one.
        root: folder to persist repos and blobs in (loaded at start, saved after every write).
        verbose: print one line per request to stderr (method, path, status; never headers).
    """

    def __init__(self, port: int = 0, root: str | Path | None = None, verbose: bool = False) -> None:
        self.root = Path(root) if root is not None else None
        self.store = BlobStore(self.root)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[dict] = []  # method, path, query, headers, status
        self.unhandled: list[str] = []
        self.lock = threading.RLock()
        self.verbose = verbose
        if self.root is not None and (self.root / "repos.json").is_file():
            for d in json.loads((self.root / "repos.json").read_text()):
                repo = Repo.from_dict(d, self.store)
                self.repos[repo.repo_type, repo.repo_id] = repo
        self.routes = [
            ("GET", r"/api/agent-harnesses", self._agent_harnesses),
            ("GET", r"/api/whoami-v2", self._whoami),
            ("POST", r"/api/validate-yaml", lambda req: {"errors": [], "warnings": []}),
            ("POST", r"/api/repos/create", self._create_repo),
            ("DELETE", r"/api/repos/delete", self._delete_repo),
            ("PUT", rf"/api/{_T}/{_ID}/settings", self._settings),
            ("GET", rf"/api/{_T}/{_ID}(?:/revision/([^/]+))?", self._info),
            ("GET", rf"/api/{_T}/{_ID}/tree/([^/]+)(?:/(.*))?", self._tree),
            ("POST", rf"/api/{_T}/{_ID}/paths-info/([^/]+)", self._paths_info),
            ("POST", rf"/api/{_T}/{_ID}/preupload/([^/]+)", self._preupload),
            ("POST", rf"/api/{_T}/{_ID}/commit/([^/]+)", self._commit),
            ("GET", rf"/api/{_T}/{_ID}/refs", self._refs),
            ("GET", rf"/api/{_T}/{_ID}/commits/([^/]+)", self._commits),
            ("POST", rf"/api/{_T}/{_ID}/branch/([^/]+)", self._create_branch),
            ("DELETE", rf"/api/{_T}/{_ID}/branch/([^/]+)", self._delete_branch),
            ("GET", rf"/api/{_T}/{_ID}/xet-(?:read|write)-token/.*", self._no_xet),
            ("POST", rf"/{_P}{_ID}\.git/info/lfs/objects/batch", self._lfs_batch),
            ("PUT", r"/lfs-upload/([0-9a-f]{64})", self._lfs_put),
            ("GET", rf"/{_P}{_ID}/resolve/([^/]+)/(.+)", self._resolve),
        ]
        self.routes = [(m, re.compile(pattern + "$"), fn) for m, pattern, fn in self.routes]
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # -- plumbing ------------------------------------------------------------------------------

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        """The stored repo (raises KeyError), for assertions in tests."""
        return self.repos[repo_type, repo_id]

    @property
    def log(self) -> list[str]:
        return [f"{r['method']} {r['path']}" for r in self.requests]

    def handle(self, req: Request) -> tuple[int, bytes | dict | list, dict]:
        method = "GET" if req.method == "HEAD" else req.method
        for route_method, pattern, fn in self.routes:
            m = pattern.match(req.path)
            if m and route_method == method:
                args = [urllib.parse.unquote(g) if g is not None else None for g in m.groups()]
                try:
                    with self.lock:
                        out = fn(req, *args)
                except HubError as e:
                    headers = {"X-Error-Message": e.message, **e.headers}
                    if e.code:
                        headers["X-Error-Code"] = e.code
                    return e.status, {"error": e.message}, headers
                return out if isinstance(out, tuple) else (200, out, {})
        self.unhandled.append(f"{req.method} {req.path}")
        return 404, {"error": f"the Hub stub has no route for {req.method} {req.path}"}, {}

    def _save(self) -> None:
        if self.root is not None:
            tmp = self.root / f".repos.json.{threading.get_ident()}"
            tmp.write_text(json.dumps([r.to_dict() for r in self.repos.values()], indent=1))
            os.replace(tmp, self.root / "repos.json")

    def _get_repo(self, req: Request, t: str, repo_id: str, write: bool = False) -> Repo:
        repo = self.repos.get((TYPES.get(t, t), repo_id))
        if repo is None:
            raise HubError(404, "RepoNotFound", f"Repository {repo_id} not found")
        if (repo.private or write) and not req.authorized:
            # The Hub answers 401 + RepoNotFound so as not to reveal that a private repo exists.
            raise HubError(401, "RepoNotFound", "Invalid username or password.")
        return repo

    @staticmethod
    def _commit_at(repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    def _entry(self, path: str, oid: str, lfs: bool) -> dict:
        data = self.store.get(oid)
        if not lfs:
            return {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha(data)}
        pointer = lfs_pointer(oid, len(data))
        return {
            "type": "file",
            "path": path,
            "size": len(data),
            "oid": git_blob_sha(pointer),
            "lfs": {"oid": oid, "size": len(data), "pointerSize": len(pointer)},
        }

    @staticmethod
    def _dir(path: str) -> dict:
        return {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest()}

    # -- repos ---------------------------------------------------------------------------------

    def _agent_harnesses(self, req):
        raise HubError(404, "", "Not Found")

    def _whoami(self, req):
        if not req.authorized:
            raise HubError(401, "", "Invalid credentials in Authorization header")
        return {
            "type": "user",
            "name": USER,
            "fullname": "Hub Stub",
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "stub", "role": "write"}},
        }

    def _create_repo(self, req):
        if not req.authorized:
            raise HubError(401, "", "You must be authenticated to create a repo")
        payload = req.json()
        repo_type = payload.get("type") or "model"
        if repo_type not in PREFIX:
            raise HubError(400, "", f"Invalid repo type {repo_type!r}: expected one of {sorted(PREFIX)}")
        if not payload.get("organization"):
            raise HubError(400, "", "the Hub stub needs namespaced repo ids ('org/name')")
        repo_id = f"{payload['organization']}/{payload['name']}"
        if (repo_type, repo_id) in self.repos:
            url = self.repos[repo_type, repo_id].url(req.base)
            return 409, {"error": f"You already created this {repo_type} repo", "url": url}, {}
        sdk = payload.get("sdk")
        if repo_type == "space" and sdk not in SPACE_SDKS:
            raise HubError(400, "", f"Invalid Space sdk {sdk!r}: expected one of {list(SPACE_SDKS)}")
        private = payload.get("visibility", "private" if payload.get("private") else "public") != "public"
        repo = Repo(repo_type, repo_id, private, sdk if repo_type == "space" else None, _now(), store=self.store)
        repo.add_commit("main", {".gitattributes": [self.store.put(GITATTRIBUTES), False]}, "initial commit")
        self.repos[repo_type, repo_id] = repo
        self._save()
        return {"url": repo.url(req.base), "name": repo_id, "id": repo_id}

    def _delete_repo(self, req):
        payload = req.json()
        repo = self._get_repo(
            req, payload.get("type") or "model", f"{payload.get('organization')}/{payload['name']}", write=True
        )
        del self.repos[repo.repo_type, repo.repo_id]
        self._save()
        return {}

    def _settings(self, req, t, repo_id):
        repo = self._get_repo(req, t, repo_id, write=True)
        payload = req.json()
        if "visibility" in payload:
            repo.private = payload["visibility"] != "public"
        elif "private" in payload:
            repo.private = bool(payload["private"])
        self._save()
        return {}

    def _info(self, req, t, repo_id, revision=None):
        repo = self._get_repo(req, t, repo_id)
        commit = self._commit_at(repo, revision or "main")
        siblings = []
        for path, (oid, lfs) in sorted(commit.files.items()):
            sibling = {"rfilename": path}
            if req.flag("blobs"):
                entry = self._entry(path, oid, lfs)
                sibling.update(size=entry["size"], blobId=entry["oid"])
                if lfs:
                    sibling["lfs"] = {"sha256": oid, "size": entry["size"], "pointerSize": entry["lfs"]["pointerSize"]}
            siblings.append(sibling)
        info = {
            "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
            "id": repo_id,
            "author": repo_id.split("/")[0],
            "sha": commit.sha,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "createdAt": repo.created,
            "lastModified": commit.date,
            "tags": [],
            "downloads": 0,
            "likes": 0,
            "siblings": siblings,
        }
        card = self._card_data(repo, commit)
        if card is not None:
            info["cardData"] = card
        if repo.repo_type == "model":
            info["modelId"] = repo_id
        if repo.repo_type == "space":
            info["sdk"] = (card or {}).get("sdk", repo.sdk)
        return info

    def _card_data(self, repo: Repo, commit: Commit) -> dict | None:
        if "README.md" not in commit.files:
            return None
        text = self.store.get(commit.files["README.md"][0]).decode("utf-8", "replace")
        m = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, re.S)
        if m is None:
            return None
        import yaml

        try:
            data = yaml.safe_load(m.group(1))
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None

    # -- files ---------------------------------------------------------------------------------

    def _tree(self, req, t, repo_id, revision, sub=None):
        repo = self._get_repo(req, t, repo_id)
        commit = self._commit_at(repo, revision)
        sub = (sub or "").strip("/")
        prefix = sub + "/" if sub else ""
        if sub and not any(p.startswith(prefix) for p in commit.files):
            # HfFileSystem (datasets' glob) relies on this exact error code for a missing folder.
            raise HubError(404, "EntryNotFound", f"{sub} does not exist on {revision}")
        recursive = req.flag("recursive")
        out, dirs = [], set()
        for path, (oid, lfs) in sorted(commit.files.items()):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :].split("/")
            for depth in range(1, len(rest) if recursive else min(2, len(rest))):
                d = prefix + "/".join(rest[:depth])
                if d not in dirs:
                    dirs.add(d)
                    out.append(self._dir(d))
            if recursive or len(rest) == 1:
                out.append(self._entry(path, oid, lfs))
        return out

    def _paths_info(self, req, t, repo_id, revision):
        repo = self._get_repo(req, t, repo_id)
        commit = self._commit_at(repo, revision)
        if req.headers.get("content-type", "").startswith("application/json"):
            paths = req.json().get("paths", [])
        else:
            paths = urllib.parse.parse_qs(req.body.decode()).get("paths", [])
        out = []
        for path in paths:
            path = path.strip("/")
            if path in commit.files:
                out.append(self._entry(path, *commit.files[path]))
            elif any(p.startswith(path + "/") for p in commit.files):
                out.append(self._dir(path))
        return out

    def _resolve(self, req, prefix, repo_id, revision, path):
        repo = self._get_repo(req, (prefix or "models/").rstrip("/"), repo_id)
        commit = self._commit_at(repo, revision)
        if path not in commit.files:
            raise HubError(404, "EntryNotFound", f"{path} does not exist on {revision}", {"X-Repo-Commit": commit.sha})
        oid, lfs = commit.files[path]
        data = self.store.get(oid)
        headers = {
            "X-Repo-Commit": commit.sha,
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "ETag": f'"{oid if lfs else git_blob_sha(data)}"',
        }
        if lfs:
            headers.update({"X-Linked-Etag": f'"{oid}"', "X-Linked-Size": str(len(data))})
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", req.headers.get("range", ""))
        if m and req.method == "GET":
            start, end = int(m.group(1)), int(m.group(2) or len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return 206, data[start : end + 1], headers
        return 200, data, headers

    # -- uploads -------------------------------------------------------------------------------

    def _no_xet(self, req, t, repo_id):
        raise HubError(501, "", "the Hub stub has no Xet storage: set HF_HUB_DISABLE_XET=1 in the client")

    def _preupload(self, req, t, repo_id, revision):
        repo = self._get_repo(req, t, repo_id, write=True)
        if revision not in repo.branches:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        current = repo.resolve(revision).files
        files = []
        for f in req.json()["files"]:
            lfs = f["path"].endswith(LFS_SUFFIXES) or f.get("size", 0) >= LFS_MIN_SIZE
            oid = None
            if f["path"] in current:  # lets the client drop files that did not change
                remote_oid, remote_lfs = current[f["path"]]
                oid = remote_oid if remote_lfs else git_blob_sha(self.store.get(remote_oid))
            files.append(
                {"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid}
            )
        return {"files": files, "commitOid": repo.branches[revision]}

    def _lfs_batch(self, req, prefix, repo_id):
        self._get_repo(req, (prefix or "models/").rstrip("/"), repo_id, write=True)
        payload = req.json()
        if payload.get("operation") != "upload":
            raise HubError(400, "", "the Hub stub only supports LFS uploads")
        objects = []
        for o in payload["objects"]:
            obj = {"oid": o["oid"], "size": o["size"]}
            if o["oid"] not in self.store:
                obj["actions"] = {"upload": {"href": f"{req.base}/lfs-upload/{o['oid']}"}}
            objects.append(obj)
        return 200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"}

    def _lfs_put(self, req, oid):
        if hashlib.sha256(req.body).hexdigest() != oid:
            raise HubError(400, "", f"uploaded content does not match its sha256 {oid}")
        self.store.put(req.body)
        return {}

    def _commit(self, req, t, repo_id, revision):
        repo = self._get_repo(req, t, repo_id, write=True)
        if req.flag("create_pr"):
            raise HubError(400, "", "the Hub stub does not support pull requests")
        if revision not in repo.branches:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision} (commits go to a branch)")
        staged = dict(repo.resolve(revision).files)
        title, message = "", ""
        for line in req.body.decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                title, message = value.get("summary", ""), value.get("description", "")
                parent = value.get("parentCommit")
                if parent and parent != repo.branches[revision]:
                    raise HubError(412, "", f"parent commit {parent} is not the head of {revision}")
            elif key == "file":
                staged[value["path"]] = [self.store.put(base64.b64decode(value["content"])), False]
            elif key == "lfsFile":
                if value["oid"] not in self.store:
                    raise HubError(422, "", f"LFS object {value['oid']} was never uploaded")
                staged[value["path"]] = [value["oid"], True]
            elif key == "deletedFile":
                if staged.pop(value["path"], None) is None:
                    raise HubError(404, "EntryNotFound", f"A file with this name doesn't exist: {value['path']}")
            elif key == "deletedFolder":
                folder = value["path"].strip("/") + "/"
                staged = {p: v for p, v in staged.items() if not p.startswith(folder)}
            else:
                raise HubError(400, "", f"the Hub stub does not support commit operation {key!r}")
        commit = repo.add_commit(revision, staged, title, message)
        self._save()
        return {
            "commitUrl": f"{repo.url(req.base)}/commit/{commit.sha}",
            "commitOid": commit.sha,
            "pullRequestUrl": None,
            "success": True,
        }

    # -- refs ----------------------------------------------------------------------------------

    def _refs(self, req, t, repo_id):
        repo = self._get_repo(req, t, repo_id)
        branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": sha} for b, sha in repo.branches.items()]
        return {"branches": branches, "converts": [], "tags": [], "pullRequests": []}

    def _commits(self, req, t, repo_id, revision):
        repo = self._get_repo(req, t, repo_id)
        commit, out = self._commit_at(repo, revision), []
        while commit is not None:
            out.append(
                {
                    "id": commit.sha,
                    "title": commit.title,
                    "message": commit.message,
                    "date": commit.date,
                    "authors": [{"user": USER}],
                }
            )
            commit = repo.commits.get(commit.parent) if commit.parent else None
        return out

    def _create_branch(self, req, t, repo_id, branch):
        repo = self._get_repo(req, t, repo_id, write=True)
        if branch in repo.branches:
            raise HubError(409, "", f"Reference already exists: {branch}")
        start = (req.json() or {}).get("startingPoint") or "main"
        repo.branches[branch] = self._commit_at(repo, start).sha
        self._save()
        return {}

    def _delete_branch(self, req, t, repo_id, branch):
        repo = self._get_repo(req, t, repo_id, write=True)
        if branch not in repo.branches or branch == "main":
            raise HubError(404 if branch != "main" else 403, "", f"cannot delete branch {branch}")
        del repo.branches[branch]
        self._save()
        return {}

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> HubStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _make_handler(stub: HubStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self):
            url = urllib.parse.urlsplit(self.path)
            req = Request(
                self.command,
                url.path,
                urllib.parse.parse_qs(url.query),
                {k.lower(): v for k, v in self.headers.items()},
                self._read_body(),
                f"http://{self.headers.get('Host') or self.server.server_address[0]}",
            )
            status, body, headers = stub.handle(req)
            with stub.lock:
                stub.requests.append(
                    {
                        "method": req.method,
                        "path": req.path,
                        "query": req.query,
                        "headers": req.headers,
                        "status": status,
                    }
                )
            if stub.verbose:
                print(f"{req.method} {req.path} -> {status}", file=sys.stderr, flush=True)
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **headers}
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.hub_stub", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--root", help="persist repos and blobs in this folder (default: in memory)")
    parser.add_argument("--quiet", action="store_true", help="do not print one line per request")
    args = parser.parse_args(argv)
    hub = HubStub(port=args.port, root=args.root, verbose=not args.quiet)
    print(hub.url, flush=True)
    print(
        f"export HF_ENDPOINT={hub.url} HF_TOKEN=dummy HF_HUB_DISABLE_XET=1; unset HF_HUB_OFFLINE",
        file=sys.stderr,
        flush=True,
    )
    try:
        hub.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        hub.httpd.server_close()


if __name__ == "__main__":
    main()
