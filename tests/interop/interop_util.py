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
