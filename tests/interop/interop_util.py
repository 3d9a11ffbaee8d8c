"""Helpers shared by the live-interop tests (independent Python re-implementation
of the few Nix 2.8 formats the tests need to *construct* inputs or cross-check Nix).

Nothing here is used to decide whether `vouch` is right on its own: every test
compares `vouch` with the real `nix` binaries.  The Python code is only used to
build malformed inputs (bad NARs, tampered narinfos) and for self-checks.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import shlex
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SEED = int(os.environ.get("VOUCH_SEED") or (time.time_ns() // 1000) % 2**31)
REQUIRE_NIX = os.environ.get("REQUIRE_NIX", "") not in ("", "0", "false", "no")

NIX32_ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz"
STORE = "/nix/store"

NIX_CONFIG_DEFAULT = (
    "experimental-features = nix-command ca-derivations\n"
    "sandbox = false\n"
    "build-users-group =\n"
    "substituters ="
)


# --------------------------------------------------------------------------- hashes

def nix32(data: bytes) -> str:
    n = (len(data) * 8 - 1) // 5 + 1
    out = []
    for k in range(n - 1, -1, -1):
        b = k * 5
        i, j = b // 8, b % 8
        c = data[i] >> j
        if i + 1 < len(data):
            c |= data[i + 1] << (8 - j)
        out.append(NIX32_ALPHABET[c & 0x1F])
    return "".join(out)


def nix32_decode(s: str) -> bytes:
    size = len(s) * 5 // 8
    out = bytearray(size)
    for n in range(len(s)):
        c = s[len(s) - n - 1]
        digit = NIX32_ALPHABET.index(c)
        b = n * 5
        i, j = b // 8, b % 8
        out[i] |= (digit << j) & 0xFF
        if i + 1 < size:
            out[i + 1] |= digit >> (8 - j)
    return bytes(out)


def compress_hash(h: bytes, size: int = 20) -> bytes:
    o = bytearray(size)
    for i, b in enumerate(h):
        o[i % size] ^= b
    return bytes(o)


def make_store_path(type_: str, inner_hex: str, name: str) -> str:
    fp = f"{type_}:sha256:{inner_hex}:{STORE}:{name}"
    return f"{STORE}/{nix32(compress_hash(hashlib.sha256(fp.encode()).digest()))}-{name}"


def text_path(contents: bytes, name: str, refs: list[str]) -> str:
    type_ = "text" + "".join(":" + r for r in sorted(refs))
    return make_store_path(type_, hashlib.sha256(contents).hexdigest(), name)


def parse_hash(s: str) -> tuple[str, bytes]:
    """'sha256:<nix32|b16|b64>' or SRI -> (algo, digest)."""
    sizes = {"md5": 16, "sha1": 20, "sha256": 32, "sha512": 64}
    if ":" in s:
        algo, body = s.split(":", 1)
        size = sizes[algo]
        if len(body) == size * 2:
            return algo, bytes.fromhex(body)
        if len(body) == (size * 8 - 1) // 5 + 1:
            return algo, nix32_decode(body)
        return algo, base64.b64decode(body)
    algo, body = s.split("-", 1)
    return algo, base64.b64decode(body)


# --------------------------------------------------------------------------- NAR

def _nstr(b: bytes) -> bytes:
    return len(b).to_bytes(8, "little") + b + b"\0" * ((8 - len(b) % 8) % 8)


def nar_tokens(*toks: bytes) -> bytes:
    return b"".join(_nstr(t) for t in toks)


def nar_of_path(p: Path | str) -> bytes:
    """Reference NAR serialisation of a filesystem path (used for self-checks)."""
    p = os.fsencode(p)
    out = [_nstr(b"nix-archive-1")]

    def node(path: bytes):
        st = os.lstat(path)
        out.append(_nstr(b"("))
        out.append(_nstr(b"type"))
        if stat.S_ISLNK(st.st_mode):
            out.append(nar_tokens(b"symlink", b"target", os.readlink(path)))
        elif stat.S_ISREG(st.st_mode):
            out.append(_nstr(b"regular"))
            if st.st_mode & stat.S_IXUSR:
                out.append(nar_tokens(b"executable", b""))
            with open(path, "rb") as f:
                out.append(nar_tokens(b"contents", f.read()))
        elif stat.S_ISDIR(st.st_mode):
            out.append(_nstr(b"directory"))
            for name in sorted(os.listdir(path)):
                out.append(nar_tokens(b"entry", b"(", b"name", name, b"node"))
                node(os.path.join(path, name))
                out.append(_nstr(b")"))
        else:
            raise ValueError(f"unsupported file type: {path!r}")
        out.append(_nstr(b")"))

    node(p)
    return b"".join(out)


# --------------------------------------------------------------------------- narinfo

@dataclass
class NarInfo:
    lines: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "NarInfo":
        ni = cls()
        for line in text.split("\n"):
            if not line:
                continue
            k, v = line.split(":", 1)
            ni.lines.append((k, v[1:] if v.startswith(" ") else v))
        return ni

    def get(self, key: str) -> str | None:
        for k, v in self.lines:
            if k == key:
                return v
        return None

    def get_all(self, key: str) -> list[str]:
        return [v for k, v in self.lines if k == key]

    def set(self, key: str, value: str) -> None:
        self.lines = [(k, value if k == key else v) for k, v in self.lines]

    def render(self) -> str:
        return "".join(f"{k}: {v}\n" for k, v in self.lines)

    @property
    def references(self) -> list[str]:
        r = self.get("References") or ""
        return [f"{STORE}/{x}" for x in r.split(" ") if x]

    def fingerprint(self) -> str:
        _, digest = parse_hash(self.get("NarHash"))
        return "1;{};sha256:{};{};{}".format(
            self.get("StorePath"), nix32(digest), self.get("NarSize"),
            ",".join(sorted(self.references)))


# --------------------------------------------------------------------------- keys

def read_key(path: Path | str) -> tuple[str, bytes]:
    text = Path(path).read_text().strip()
    name, b64 = text.split(":", 1)
    return name, base64.b64decode(b64)


def ed25519_verify(pub: bytes, sig: bytes, msg: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except InvalidSignature:
        return False


def ed25519_sign(secret64: bytes, msg: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return Ed25519PrivateKey.from_private_bytes(secret64[:32]).sign(msg)


def have_cryptography() -> bool:
    try:
        import cryptography  # noqa: F401
        return True
    except ImportError:
        return False


# --------------------------------------------------------------------------- processes

def fmt_cmd(cmd) -> str:
    return " ".join(shlex.quote(os.fsdecode(c)) for c in cmd)


def describe(res: subprocess.CompletedProcess, limit: int = 2000) -> str:
    def clip(b):
        if b is None:
            return ""
        s = b.decode("utf-8", "replace") if isinstance(b, bytes) else b
        return s if len(s) <= limit else s[:limit] + f"... [{len(s)} chars]"
    return (f"$ {fmt_cmd(res.args)}\nexit={res.returncode}\n"
            f"--- stdout ---\n{clip(res.stdout)}\n--- stderr ---\n{clip(res.stderr)}")


def first_diff(a: bytes, b: bytes) -> str:
    n = min(len(a), len(b))
    i = next((k for k in range(n) if a[k] != b[k]), n)
    lo = max(0, i - 32)
    return (f"lengths {len(a)} vs {len(b)}; first difference at byte {i}\n"
            f"  vouch: {a[lo:i + 32]!r}\n  nix:   {b[lo:i + 32]!r}")


# --------------------------------------------------------------------------- randomness

def rng_for(*parts) -> random.Random:
    """A generator derived from the session seed and a stable label."""
    return random.Random(f"{SEED}:" + ":".join(str(p) for p in parts))


# --------------------------------------------------------------------------- running things

def run(cmd, *, input: bytes | None = None, check: bool = True, env=None,
        cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [os.fspath(c) if isinstance(c, os.PathLike) else c for c in cmd]
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    r = subprocess.run(cmd, input=input, capture_output=True, env=full_env, cwd=cwd,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("command failed:\n" + describe(r))
    return r


def nix_config(*extra: str) -> dict:
    """Environment overlay: the session NIX_CONFIG plus extra lines."""
    return {"NIX_CONFIG": "\n".join([os.environ["NIX_CONFIG"], *extra])}


class Vouch:
    def __init__(self, path: Path):
        self.path = path

    def __call__(self, *args, input: bytes | None = None, timeout: float = 120):
        return run([self.path, *args], input=input, check=False, timeout=timeout)

    def ok(self, *args, input: bytes | None = None) -> subprocess.CompletedProcess:
        r = self(*args, input=input)
        assert r.returncode == 0, "vouch failed:\n" + describe(r)
        return r


def assert_usage_error(r: subprocess.CompletedProcess, code: int = 2):
    """vouch's error contract: exit code `code`, exactly one line on stderr."""
    assert r.returncode == code, f"expected exit {code}:\n" + describe(r)
    lines = r.stderr.decode("utf-8", "replace").rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].strip(), \
        "expected exactly one non-empty line on stderr:\n" + describe(r)


def write_hook(path, log, sign_args, sign_log):
    """A /bin/sh post-build-hook that logs DRV_PATH and OUT_PATHS to `log` and execs `sign_args`
    (stderr to `sign_log`)."""
    path.write_text("#!/bin/sh\n"
                    f"printf '%s\\t%s\\n' \"$DRV_PATH\" \"$OUT_PATHS\" >> {shlex.quote(str(log))}\n"
                    f"exec {' '.join(shlex.quote(str(a)) for a in sign_args)} 2>> {shlex.quote(str(sign_log))}\n")
    path.chmod(0o755)
    return path


# --------------------------------------------------------------------------- vouch serve
# Helpers for the server suites (test_serve*.py): a `vouch serve` subprocess, plain HTTP
# requests, Nix-format NARs and narinfos built in Python, netrc files, signed requests.

import http.client
import lzma
import re
import signal

SERVING_LINE = re.compile(r"serving (.+) on http://([^\s:/]+|\[[^\]]+\]):(\d+)")


class ServerProc:
    """`vouch serve --data DATA --listen 127.0.0.1:0 EXTRA…` as a subprocess; stderr goes to
    `DATA.log` (appended across restarts). `url` is known once the 'serving … on http://…' line
    appeared. Always `stop()` (or `kill9()`) it."""

    def __init__(self, vouch_bin, data: Path, *extra, timeout: float = 60):
        self.vouch_bin, self.data, self.extra = Path(vouch_bin), Path(data), [os.fspath(e) for e in extra]
        self.log = Path(f"{data}.log")
        self.proc = None
        self.start(timeout)

    def start(self, timeout: float = 60):
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        offset = self.log.stat().st_size if self.log.exists() else 0
        cmd = [os.fspath(self.vouch_bin), "serve", "--data", os.fspath(self.data), "--listen", "127.0.0.1:0", *self.extra]
        self.cmd = cmd
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        pattern = SERVING_LINE
        deadline = time.monotonic() + timeout
        while True:
            text = self.log.read_bytes()[offset:].decode("utf-8", "replace")
            m = pattern.search(text)
            if m:
                self.host, self.port = m.group(2).strip("[]"), int(m.group(3))
                self.url = f"http://{self.host}:{self.port}"
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"vouch serve exited {self.proc.returncode} before listening:\n"
                                     f"$ {fmt_cmd(cmd)}\n{text[-3000:]}")
            if time.monotonic() > deadline:
                self.kill9()
                raise AssertionError(f"vouch serve did not print 'serving … on http://…' within {timeout} s:\n"
                                     f"$ {fmt_cmd(cmd)}\n{text[-3000:]}")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def stop(self, grace: float = 10):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill9()
        elif self.proc is not None:
            self.proc.wait(timeout=30)

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_bytes()[-n:].decode("utf-8", "replace") if self.log.exists() else ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 120) -> "HTTPAnswer":
        return http_request(self.host, self.port, method, path, body, headers, timeout=timeout)


@dataclass
class HTTPAnswer:
    status: int
    headers: dict          # lower-case names
    body: bytes
    method: str = ""
    path: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __str__(self) -> str:
        b = self.body if len(self.body) <= 600 else self.body[:600] + b"..."
        return f"{self.method} {self.path} -> {self.status} {self.headers.get('content-type', '')} {b!r}"


def http_request(host: str, port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict | None = None, timeout: float = 120) -> HTTPAnswer:
    """One request on a fresh connection; `path` is sent exactly as given (no normalisation)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if body is not None and not any(k.lower() == "content-length" for k in hdrs):
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            try:
                conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (e.g. 413) before reading the whole body
        r = conn.getresponse()
        data = r.read()
        return HTTPAnswer(r.status, {k.lower(): v for k, v in r.getheaders()}, data, method, path)
    finally:
        conn.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def basic(token: str, user: str = "vouch") -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


def assert_refusal(ans: HTTPAnswer, status: int | tuple, *needles: str):
    """The server's error contract: the status, a text/plain body of exactly one non-empty line,
    containing each of `needles` (case-insensitive)."""
    ok = ans.status in (status if isinstance(status, tuple) else (status,))
    assert ok, f"expected {status}: {ans}"
    text = ans.text
    assert text.endswith("\n") and "\n" not in text[:-1] and text.strip(), f"expected one line: {ans}"
    assert ans.headers.get("content-type", "").startswith("text/plain"), f"expected text/plain: {ans}"
    for n in needles:
        assert n.lower() in text.lower(), f"expected {n!r} in the message: {ans}"


def serve_token(vouch_bin, data: Path, name: str) -> str:
    r = run([vouch_bin, "serve", "tokens", "create", name, "--data", data])
    token = r.stdout.decode().strip()
    assert token and "\n" not in token, "expected one token on stdout:\n" + describe(r)
    return token


def serve_key_add(vouch_bin, data: Path, public_key: str):
    run([vouch_bin, "serve", "keys", "add", public_key, "--data", data])


def write_netrc(path: Path, token: str | None, host: str = "127.0.0.1", login: str = "vouch") -> Path:
    path.write_text("" if token is None else f"machine {host} login {login} password {token}\n")
    path.chmod(0o600)
    return path


def nix_keypair(dir_: Path, name: str) -> tuple[Path, Path, str]:
    """(secret file, public file, public key text) made by `nix-store --generate-binary-cache-key`."""
    sk, pk = dir_ / f"{name}.sk", dir_ / f"{name}.pk"
    run(["nix-store", "--generate-binary-cache-key", name, sk, pk])
    return sk, pk, pk.read_text().strip()


def signed_request_headers(secret_key_file, method: str, target: str, body: bytes,
                           date: int | None = None) -> dict:
    """X-Vouch-Date / X-Vouch-Signature for a request signed by a builder key (docs/http-api.md)."""
    name, secret = read_key(secret_key_file)
    date = int(time.time()) if date is None else date
    msg = f"vouch-request-v1\n{method}\n{target}\n{date}\n{hashlib.sha256(body).hexdigest()}".encode()
    sig = base64.b64encode(ed25519_sign(secret, msg)).decode()
    return {"X-Vouch-Date": str(date), "X-Vouch-Signature": f"{name}:{sig}"}


def nar_of_file(contents: bytes, executable: bool = False) -> bytes:
    """NAR of a single regular file."""
    toks = [b"nix-archive-1", b"(", b"type", b"regular"]
    if executable:
        toks += [b"executable", b""]
    toks += [b"contents", contents, b")"]
    return nar_tokens(*toks)


def random_store_path(rng: random.Random, name: str) -> str:
    return f"{STORE}/{nix32(rng.randbytes(20))}-{name}"


def hash_part(store_path: str) -> str:
    return Path(store_path).name[:32]


COMPRESSION_EXT = {"none": "", "xz": ".xz", "zstd": ".zst"}


def compress(data: bytes, compression: str) -> bytes:
    if compression == "none":
        return data
    if compression == "xz":
        return lzma.compress(data, preset=0)
    if compression == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-1"], input=data, capture_output=True, check=True).stdout
    raise ValueError(compression)


def decompress(data: bytes, compression: str) -> bytes:
    if compression == "none":
        return data
    if compression == "xz":
        return lzma.decompress(data)
    if compression == "zstd":
        return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, capture_output=True, check=True).stdout
    raise ValueError(compression)


def render_narinfo(store_path: str, url: str, compression: str, file_hash: str, file_size: int,
                   nar_hash: str, nar_size: int, references=(), deriver: str | None = None,
                   sigs=(), ca: str | None = None) -> str:
    """narinfo text exactly as Nix 2.8 writes it (field order, sorted references and sigs)."""
    lines = [f"StorePath: {store_path}", f"URL: {url}", f"Compression: {compression}",
             f"FileHash: {file_hash}", f"FileSize: {file_size}", f"NarHash: {nar_hash}",
             f"NarSize: {nar_size}", "References: " + " ".join(sorted(Path(r).name for r in references))]
    if deriver:
        lines.append(f"Deriver: {Path(deriver).name}")
    lines += [f"Sig: {s}" for s in sorted(sigs)]
    if ca:
        lines.append(f"CA: {ca}")
    return "".join(line + "\n" for line in lines)


@dataclass
class Upload:
    """A NAR file and its narinfo, ready to PUT."""
    store_path: str
    nar: bytes
    file: bytes
    url: str              # "nar/<nix32>.nar[.xz|.zst]"
    narinfo: str
    compression: str

    @property
    def narinfo_path(self) -> str:
        return f"/{hash_part(self.store_path)}.narinfo"


def make_upload(rng: random.Random, name: str = "blob", size: int = 200, compression: str = "none",
                references=(), sign_with: Path | None = None, nar: bytes | None = None,
                store_path: str | None = None) -> Upload:
    """A random single-file NAR (or `nar`) under a random (or given) store path, with its narinfo,
    optionally signed (fingerprint per NIX-FORMATS.md §4.3) with a Nix secret key file."""
    nar = nar if nar is not None else nar_of_file(rng.randbytes(size), executable=rng.random() < 0.3)
    sp = store_path or random_store_path(rng, name)
    f = compress(nar, compression)
    fh = "sha256:" + nix32(hashlib.sha256(f).digest())
    url = f"nar/{fh[7:]}.nar{COMPRESSION_EXT[compression]}"
    nh = "sha256:" + nix32(hashlib.sha256(nar).digest())
    sigs = []
    if sign_with is not None:
        fp = "1;{};{};{};{}".format(sp, nh, len(nar), ",".join(sorted(references)))
        kname, secret = read_key(sign_with)
        sigs.append(f"{kname}:{base64.b64encode(ed25519_sign(secret, fp.encode())).decode()}")
    text = render_narinfo(sp, url, compression, fh, len(f), nh, len(nar), references, sigs=sigs)
    return Upload(sp, nar, f, url, text, compression)


def put_upload(server: "ServerProc", up: Upload, headers: dict) -> tuple[HTTPAnswer, HTTPAnswer | None]:
    """PUT the NAR, then (if that was 2xx) the narinfo."""
    a = server.request("PUT", "/" + up.url, up.file, {**headers, "Content-Type": "application/x-nix-nar"})
    if not 200 <= a.status < 300:
        return a, None
    b = server.request("PUT", up.narinfo_path, up.narinfo.encode(), {**headers, "Content-Type": "text/x-nix-narinfo"})
    return a, b


def blob_files(data: Path) -> list[str]:
    """Every file under DATA/blobs except the upload temp directory, relative to blobs/."""
    root = Path(data) / "blobs"
    out = []
    for dirpath, _dirs, files in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if rel.parts[:1] == ("tmp",):
            continue
        out += [str(rel / f) for f in files]
    return sorted(out)


def nix_hash_to_nix32(h: str) -> str:
    """'sha256:<any encoding>' or SRI -> 'sha256:<nix32>'."""
    algo, digest = parse_hash(h)
    return f"{algo}:{nix32(digest)}"


def write_multi_hook(path: Path, log: Path, commands: list, sign_log: Path) -> Path:
    """A /bin/sh post-build-hook that logs DRV_PATH/OUT_PATHS to `log` and runs each command of
    `commands` in turn (stderr to `sign_log`), failing on the first that fails."""
    body = ["#!/bin/sh", "set -e",
            f"printf '%s\\t%s\\n' \"$DRV_PATH\" \"$OUT_PATHS\" >> {shlex.quote(str(log))}"]
    for cmd in commands:
        body.append(f"{' '.join(shlex.quote(str(a)) for a in cmd)} 2>> {shlex.quote(str(sign_log))}")
    path.write_text("\n".join(body) + "\n")
    path.chmod(0o755)
    return path


def nix_prelude(token: str, prefix: str, src_text: str | None = None) -> str:
    """The start of a test Nix file: `mk` (a /bin/sh derivation), `ca` (floating CA), a source file
    `src` and a fixed-output `fod` writing the token, inside an open `rec {`; names start with `prefix`.
    `src_text` is Nix string text (escapes included); by default "source <token>" and a newline."""
    fod_hash = hashlib.sha256(f"{token}\n".encode()).hexdigest()
    src_text = f"source {token}\\n" if src_text is None else src_text
    return f"""
let
  mk = a: derivation ({{ system = builtins.currentSystem; builder = "/bin/sh"; }} // a);
  ca = a: mk ({{ __contentAddressed = true; outputHashMode = "recursive"; outputHashAlgo = "sha256"; }} // a);
  src = builtins.toFile "{prefix}src-{token}.txt" "{src_text}";
in rec {{
  fod = mk {{ name = "{prefix}fod-{token}"; args = [ "-c" "echo {token} > $out" ];
             outputHashMode = "flat"; outputHashAlgo = "sha256"; outputHash = "sha256:{fod_hash}"; }};
"""


def chain_nix_file(token: str, prefix: str) -> str:
    """A Nix file with an FOD, an input-addressed chain, a CA chain and an IA step on CA; names start with `prefix`."""
    return nix_prelude(token, prefix) + f"""\
  iaA = mk {{ name = "{prefix}ia-a"; salt = "{token}"; args = [ "-c" "read s < ${{src}}; echo \\"a $s\\" > $out" ]; }};
  iaB = mk {{ name = "{prefix}ia-b"; salt = "{token}";
             args = [ "-c" "read a < ${{iaA}}; read f < ${{fod}}; echo \\"$a + $f\\" > $out" ]; }};
  caA = ca {{ name = "{prefix}ca-a"; args = [ "-c" "echo \\"ca a {token}\\" > $out" ]; }};
  caB = ca {{ name = "{prefix}ca-b"; args = [ "-c" "read x < ${{caA}}; echo \\"b [$x] from ${{caA}}\\" > $out" ]; }};
  deferred = mk {{ name = "{prefix}ia-on-ca"; args = [ "-c" "read x < ${{caB}}; echo \\"$x {token}\\" > $out" ]; }};
}}
"""


def builder_keys(vouch_bin, work: Path, prefix: str, salt: str) -> dict:
    """Builder key pairs "a" and "b" made by `vouch key generate`: who -> (secret key file, public key text)."""
    keys = {}
    for who in ("a", "b"):
        sk, pk = work / f"{who}.sk", work / f"{who}.pk"
        run([vouch_bin, "key", "generate", f"{prefix}-{who}-{salt}", "--secret-key-file", sk, "--public-key-file", pk])
        keys[who] = (sk, pk.read_text().strip())
    return keys
