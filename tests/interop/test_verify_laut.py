"""`vouch verify --cache URL` against a laut-style cache, on a content-addressed chain built by Nix 2.8.

A fixed-output derivation and three floating content-addressed steps on it (ca-a reads the FOD and
a `builtins.toFile` source, ca-b reads ca-a, ca-c reads ca-b; fresh salt every run) are built once
with `vouch sign` as post-build-hook under key A; builder B's traces replay the hook calls with its
key (as in test_verify.py). Each builder's DSSE trace of each CA step names the resolved derivation
Nix built and the outputs; from it the test writes what laut would have signed: a compact JWS
(EdDSA, header `type` laut, `v` 2, `kid` = name + first 16 hex of SHA-256 of the DER SPKI) over
`{"in":{"rdrv_aterm_ca":<hash part of the resolved .drv>},"out":{"nix":{<output>:{path,hash}}}}`,
signed here with Python `cryptography` by the same key.

A tiny laut-style server (Python http.server on 127.0.0.1) answers only
`GET /traces/<hash part>` with `{"signatures":[…]}` for the resolved derivations, 404 for anything
else (so there is no bulk Vouch API), and logs every request. The resolved derivations differ from
the ones in the closure and are known only once a step's inputs are accepted, so verification has
to fetch them level by level: the 2-of-2 policy verifies, and the server saw each resolved hash
part asked for once, inputs first. B's JWS of the middle step edited after signing, or missing,
makes the middle step the lowest failure (and the top step's resolution is never asked for).

The same JWS uploaded to a `vouch serve` (both builder keys registered, no DSSE trace at all):
its bulk query has nothing for the closure, so `vouch verify --cache` asks the server's
laut-compatible `GET /traces/<hash part>` for the resolved derivations of the steps that still
fail, level by level (requests seen through a logging proxy in front of the server), and the
2-of-2 policy verifies; without B's JWS of the middle step it fails there, until it is uploaded."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from interop_util import ServerProc, builder_keys, describe, nix32, nix_prelude, run, serve_key_add, write_hook
from trace_util import ed25519_keypair_from_nix, load_envelope, need, statement_of

CA = ["caA", "caB", "caC"]  # inputs first


def _nix_file(token: str) -> str:
    return nix_prelude(token, "l") + f"""\
  caA = ca {{ name = "lca-a"; args = [ "-c" "read f < ${{fod}}; read s < ${{src}}; echo \\"a $f $s\\" > $out" ]; }};
  caB = ca {{ name = "lca-b"; args = [ "-c" "read x < ${{caA}}; echo \\"b [$x] from ${{caA}}\\" > $out" ]; }};
  caC = ca {{ name = "lca-c"; args = [ "-c" "read x < ${{caB}}; echo \\"c [$x] from ${{caB}}\\" > $out" ]; }};
}}
"""


# --------------------------------------------------------------------------- laut JWS

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hash_part(path: str) -> str:
    return Path(path).name[:32]


def _kid(name: str, pub: bytes) -> str:
    """laut's key id: `<name>:` + first 16 hex of SHA-256 of the key's DER SubjectPublicKeyInfo."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    spki = Ed25519PublicKey.from_public_bytes(pub).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return f"{name}:{hashlib.sha256(spki).hexdigest()[:16]}"


def _laut_jws(secret_file: Path, rdrv: str, outputs: dict[str, tuple[str, str]]) -> str:
    """laut-sign's JWS for the resolved derivation `rdrv`; outputs: name -> (path, nix32 NAR hash)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    name, seed, pub = ed25519_keypair_from_nix(secret_file)
    header = {"type": "laut", "alg": "EdDSA", "crv": "Ed25519", "v": "2", "kid": _kid(name, pub), "detachHash": "nix-ca-path"}
    payload = {"in": {"rdrv_aterm_ca": _hash_part(rdrv), "debug": {"rdrv_path": rdrv}},
               "out": {"nix": {o: {"path": p, "hash": f"sha256:{h}", "hashAlgo": "sha256", "method": "nar"}
                               for o, (p, h) in sorted(outputs.items())}},
               "builder": {"rebuild_id": 1, "store_root": "/nix/store"}}
    signing_input = _b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        _b64url(json.dumps(payload, separators=(",", ":")).encode())
    return signing_input + "." + _b64url(Ed25519PrivateKey.from_private_bytes(seed).sign(signing_input.encode()))


def _edit_payload(jws: str, edit) -> str:
    """`jws` with its payload changed by `edit(payload)`; header and signature kept."""
    header, payload, sig = jws.split(".")
    p = json.loads(_unb64url(payload))
    edit(p)
    return ".".join([header, _b64url(json.dumps(p, separators=(",", ":")).encode()), sig])


def _flip(text: str) -> str:
    """`text` with its last nix32 character changed."""
    return text[:-1] + ("0" if text[-1] != "0" else "1")


# --------------------------------------------------------------------------- laut-style cache

class LautCache:
    """`GET /traces/<hash part>` -> `{"signatures":[…]}` from `traces`; 404 for everything else.
    With `upstream` (a `ServerProc`), a logging proxy instead: every request is forwarded there."""

    def __init__(self, traces: dict[str, list[str]], upstream: ServerProc | None = None):
        self.traces = {h: list(s) for h, s in traces.items() if s}
        self.requests: list[tuple[str, str]] = []
        self.log: list[str] = []  # "METHOD path -> status"
        cache = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n) if n else None
                cache.requests.append((self.command, self.path))
                if upstream is not None:
                    a = upstream.request(self.command, self.path, data,
                                         {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")})
                    status, ctype, body = a.status, a.headers.get("content-type", "text/plain"), a.body
                else:
                    sigs = cache.traces.get(self.path[len("/traces/"):]) \
                        if self.command == "GET" and self.path.startswith("/traces/") else None
                    status, ctype = (200, "application/json") if sigs else (404, "text/plain")
                    body = json.dumps({"signatures": sigs}).encode() if sigs else b"not found\n"
                cache.log.append(f"{self.command} {self.path} -> {status}")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "LautCache":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)

    def gets(self) -> list[str]:
        """Hash parts asked for with `GET /traces/…`, in order."""
        return [p[len("/traces/"):] for m, p in self.requests if m == "GET" and p.startswith("/traces/")]


# --------------------------------------------------------------------------- fixture

class Built:
    pass


@pytest.fixture(scope="module")
def lb(session_tmp, vouch_bin) -> Built:
    need("cryptography", "cryptography")
    b = Built()
    b.work = session_tmp / "verify-laut"
    b.work.mkdir()
    b.vouch_bin = vouch_bin
    salt = os.urandom(4).hex()
    b.keys = builder_keys(vouch_bin, b.work, "laut", salt)
    b.nixfile = b.work / "l.nix"
    b.nixfile.write_text(_nix_file(f"l{salt}"))

    dirs = {w: b.work / f"traces-{w}" for w in ("a", "b")}
    hook_log, sign_log = b.work / "hook.log", b.work / "sign.log"
    hook = write_hook(b.work / "hook.sh", hook_log,
                      [vouch_bin, "sign", "--strict", "--key-file", b.keys["a"][0], "--out", dirs["a"]], sign_log)
    expr = f"builtins.mapAttrs (_: d: d.drvPath) (import {b.nixfile})"
    b.drv = json.loads(run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E", expr]).stdout)
    run(["nix", "build", "--no-link", "-f", b.nixfile, "caC", "--option", "post-build-hook", hook], timeout=300)
    b.calls = [tuple(line.split("\t")) for line in hook_log.read_text().splitlines()]
    for drv, outs in b.calls:  # builder B: the same builds, signed with its key
        r = run([vouch_bin, "sign", "--strict", "--key-file", b.keys["b"][0], "--out", dirs["b"],
                 "--drv-path", drv, "--out-paths", outs], check=False)
        assert r.returncode == 0, describe(r)

    # Each builder's DSSE trace of each unresolved CA step: resolved .drv and outputs.
    b.step = {}  # attr -> {"resolved": path, "outputs": {name: (path, nix32 NAR hash)}}
    b.jws = {w: {} for w in ("a", "b")}  # who -> attr -> JWS
    for who in ("a", "b"):
        for f in sorted(dirs[who].glob("*.dsse.json")):
            stmt = statement_of(load_envelope(f))
            params = stmt["predicate"]["buildDefinition"]["externalParameters"]
            attr = next((a for a in CA if b.drv[a] == params["derivation"]), None)
            if attr is None:
                continue
            step = {"resolved": params["resolvedDerivation"],
                    "outputs": {s["annotations"]["output"]: (s["name"], nix32(bytes.fromhex(s["digest"]["sha256"])))
                                for s in stmt["subject"]}}
            assert b.step.setdefault(attr, step) == step, f"builders A and B disagree on {attr}"
            b.jws[who][attr] = _laut_jws(b.keys[who][0], step["resolved"], step["outputs"])
    assert sorted(b.step) == CA and all(sorted(b.jws[w]) == CA for w in b.jws), (b.step, b.calls)

    b.policy = b.work / "policy.toml"  # no [fixed-output]: the FOD is accepted by its declared hash
    b.policy.write_text(f'[keys]\na = "{b.keys["a"][1]}"\nb = "{b.keys["b"][1]}"\n\n'
                        '[trust]\nthreshold = 2\nof = ["a", "b"]\n')
    return b


def _traces(lb: Built, drop=(), edit=None) -> dict[str, list[str]]:
    """hash part of each resolved derivation -> every builder's JWS for it, minus `drop` (who, attr)
    pairs, with `edit` = (who, attr, function) applied to that one payload."""
    out: dict[str, list[str]] = {}
    for attr in CA:
        sigs = []
        for who in ("a", "b"):
            if (who, attr) in drop:
                continue
            jws = lb.jws[who][attr]
            if edit and edit[:2] == (who, attr):
                jws = _edit_payload(jws, edit[2])
            sigs.append(jws)
        out[_hash_part(lb.step[attr]["resolved"])] = sigs
    return out


def _verify(lb: Built, cache: LautCache, json_out: bool = True):
    args = [lb.vouch_bin, "verify", lb.drv["caC"], "--policy", lb.policy, "--cache", cache.url]
    return run(args + (["--json"] if json_out else []), check=False, timeout=120)


def _report(r) -> dict:
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise AssertionError("no JSON report:\n" + describe(r))


def _steps(lb: Built, rep: dict) -> dict[str, dict]:
    by_drv = {s["derivation"]: s for s in rep["steps"]}
    return {attr: by_drv[lb.drv[attr]] for attr in ["fod", *CA]}


# --------------------------------------------------------------------------- tests

def test_selfcheck_laut_traces(lb):
    """The JWS verify independently of vouch, and the resolved derivations Nix built are not in the
    closure: a cache asked only for the closure's hash parts has none of them."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    for attr in CA:
        resolved = lb.step[attr]["resolved"]
        assert resolved != lb.drv[attr] and Path(resolved).is_file(), (attr, resolved)
        assert _hash_part(resolved) not in {_hash_part(p) for p in lb.drv.values()}
        for who in ("a", "b"):
            name, _, pub = ed25519_keypair_from_nix(lb.keys[who][0])
            header, payload, sig = lb.jws[who][attr].split(".")
            Ed25519PublicKey.from_public_bytes(pub).verify(_unb64url(sig), f"{header}.{payload}".encode())
            assert json.loads(_unb64url(header))["kid"] == _kid(name, pub)
            assert json.loads(_unb64url(payload))["in"]["rdrv_aterm_ca"] == _hash_part(resolved)


def _assert_all_verified(lb, rep, why):
    """The closure verified: the FOD by its hash, each CA step by a and b through its resolved derivation."""
    assert rep["verified"] is True and rep["lowestFailures"] == [], why
    steps = _steps(lb, rep)
    assert steps["fod"]["status"] == "fixed-output", steps["fod"]
    for attr in CA:
        s = steps[attr]
        assert s["status"] == "verified" and s["signers"] == ["a", "b"] and s["rejected"] == [], s
        assert s["resolved"] == [lb.step[attr]["resolved"]], (s, lb.step[attr])
    return steps


def test_resolved_traces_are_fetched_level_by_level(lb):
    with LautCache(_traces(lb)) as cache:
        r = _verify(lb, cache)
    assert r.returncode == 0, describe(r) + f"\nrequests: {cache.requests}"
    rep = _report(r)
    steps = _assert_all_verified(lb, rep, rep)
    for attr in CA:
        s = steps[attr]
        assert {o: [(c["path"], c["narHash"], c["signers"]) for c in cs] for o, cs in s["outputs"].items()} == \
            {o: [(p, f"sha256:{h}", ["a", "b"])] for o, (p, h) in lb.step[attr]["outputs"].items()}, s
    # The requests: the bulk probe (404: no Vouch API), the closure's hash parts (404), then each
    # resolved derivation once, inputs first (each is known only once the step below is accepted).
    assert cache.requests[0] == ("POST", "/api/v1/traces/query"), cache.requests
    assert all(m == "GET" for m, _ in cache.requests[1:]), cache.requests
    gets = cache.gets()
    assert len(gets) == len(set(gets)), f"a hash part asked for twice: {gets}"
    resolved = [_hash_part(lb.step[a]["resolved"]) for a in CA]
    assert gets[-3:] == resolved, (gets, resolved)
    assert sorted(gets[:-3]) == sorted(_hash_part(lb.drv[a]) for a in ["fod", *CA]), gets

    # The tree report agrees.
    with LautCache(_traces(lb)) as cache:
        t = _verify(lb, cache, json_out=False)
    assert t.returncode == 0 and f"VERIFIED {lb.drv['caC']}" in t.stdout.decode(), describe(t)


@pytest.mark.parametrize("field", ["hash", "path"])
def test_edited_middle_trace_breaks_the_closure_there(lb, field):
    def edit(p):
        out = p["out"]["nix"]["out"]
        out[field] = _flip(out[field])
    name_b, _, pub_b = ed25519_keypair_from_nix(lb.keys["b"][0])
    with LautCache(_traces(lb, edit=("b", "caB", edit))) as cache:
        r = _verify(lb, cache)
    assert r.returncode == 1, describe(r)
    rep = _report(r)
    assert rep["verified"] is False and rep["lowestFailures"] == [lb.drv["caB"]], rep
    steps = _steps(lb, rep)
    assert steps["caA"]["status"] == "verified" and steps["caA"]["signers"] == ["a", "b"], steps["caA"]
    mid = steps["caB"]
    assert mid["status"] == "failed" and mid["signers"] == ["a"], mid
    assert mid["rejected"] == [f"laut trace {_kid(name_b, pub_b)}: no policy key's signature verifies"], mid
    assert mid["reason"].startswith("counted signers {a} do not satisfy 2 of (a, b); rejected: laut trace"), mid
    assert "no policy key's signature verifies" in mid["reason"], mid
    assert steps["caC"]["status"] == "failed" and "input step" in steps["caC"]["reason"], steps["caC"]
    assert steps["caC"]["resolved"] == [], steps["caC"]
    assert _hash_part(lb.step["caC"]["resolved"]) not in cache.gets(), cache.requests


@pytest.mark.parametrize("missing", [("b",), ("a", "b")])
def test_missing_middle_trace_breaks_the_closure_there(lb, missing):
    with LautCache(_traces(lb, drop=[(w, "caB") for w in missing])) as cache:
        r = _verify(lb, cache)
    assert r.returncode == 1, describe(r)
    rep = _report(r)
    assert rep["verified"] is False and rep["lowestFailures"] == [lb.drv["caB"]], rep
    steps = _steps(lb, rep)
    assert steps["caA"]["status"] == "verified", steps["caA"]
    mid = steps["caB"]
    assert mid["status"] == "failed" and mid["rejected"] == [] and mid["resolved"] == [lb.step["caB"]["resolved"]], mid
    if missing == ("b",):
        assert mid["signers"] == ["a"] and mid["reason"] == "counted signers {a} do not satisfy 2 of (a, b)", mid
    else:
        assert mid["signers"] == [] and mid["reason"] == "missing evidence: no trace for this step", mid
    assert _hash_part(lb.step["caB"]["resolved"]) in cache.gets(), cache.requests
    assert steps["caC"]["status"] == "failed" and "input step" in steps["caC"]["reason"], steps["caC"]
    assert _hash_part(lb.step["caC"]["resolved"]) not in cache.gets(), cache.requests


# --------------------------------------------------------------------------- on a Vouch server

def _upload(server: ServerProc, jws: str):
    """POST a laut JWS to the trace API; no credential (it must verify under a registered key)."""
    a = server.request("POST", "/api/v1/traces", jws.encode(), {"Content-Type": "application/jose"})
    assert a.status == 201 and json.loads(a.body) == {"id": hashlib.sha256(jws.encode()).hexdigest(), "stored": True}, \
        f"{a}\nserver log:\n{server.log_tail()}"


@contextmanager
def _vouch_server(lb: Built, name: str, drop=()):
    """`vouch serve` with both builder keys registered and every builder's JWS of every CA step
    uploaded but `drop` (who, attr); no DSSE trace. Yields (server, logging proxy in front of it)."""
    server = ServerProc(lb.vouch_bin, lb.work / name)
    try:
        for who in ("a", "b"):
            serve_key_add(lb.vouch_bin, server.data, lb.keys[who][1])
        for attr in CA:
            for who in ("a", "b"):
                if (who, attr) not in drop:
                    _upload(server, lb.jws[who][attr])
        # The bulk query the CLI sends first (the closure's derivations) has none of them.
        q = server.request("POST", "/api/v1/traces/query", json.dumps({"derivations": sorted(lb.drv.values())}).encode(),
                           {"Content-Type": "application/json"})
        assert q.status == 200 and json.loads(q.body) == {"traces": []}, q
        with LautCache({}, upstream=server) as proxy:
            yield server, proxy
    finally:
        server.stop()


def _resolved_gets(lb: Built, proxy: LautCache) -> list[str]:
    """The attrs whose resolved derivation the CLI asked the server's `GET /traces/…` for, in order."""
    by_hash = {_hash_part(lb.step[a]["resolved"]): a for a in CA}
    return [by_hash.get(h, h) for h in proxy.gets()]


def test_laut_traces_on_a_vouch_server(lb):
    with _vouch_server(lb, "serve-all") as (server, proxy):
        for attr in CA:  # served laut-style, both builders' JWS as uploaded
            got = server.request("GET", f"/traces/{_hash_part(lb.step[attr]['resolved'])}")
            assert got.status == 200 and sorted(json.loads(got.body)["signatures"]) == \
                sorted(lb.jws[w][attr] for w in ("a", "b")), got
        r = _verify(lb, proxy)
    why = describe(r) + "\nrequests:\n" + "\n".join(proxy.log) + "\nserver log:\n" + server.log_tail()
    assert r.returncode == 0, why
    _assert_all_verified(lb, _report(r), why)
    # One bulk query (a Vouch server: 200, empty), then each resolved derivation once, inputs first.
    assert proxy.log == ["POST /api/v1/traces/query -> 200"] + \
        [f"GET /traces/{_hash_part(lb.step[a]['resolved'])} -> 200" for a in CA], why


def test_missing_laut_trace_on_a_vouch_server_breaks_the_closure_there(lb):
    with _vouch_server(lb, "serve-no-b-caB", drop=[("b", "caB")]) as (server, proxy):
        r = _verify(lb, proxy)
        why = describe(r) + "\nrequests:\n" + "\n".join(proxy.log) + "\nserver log:\n" + server.log_tail()
        assert r.returncode == 1, why
        rep = _report(r)
        assert rep["verified"] is False and rep["lowestFailures"] == [lb.drv["caB"]], why
        steps = _steps(lb, rep)
        assert steps["caA"]["status"] == "verified" and steps["caA"]["signers"] == ["a", "b"], steps["caA"]
        mid = steps["caB"]
        assert mid["status"] == "failed" and mid["signers"] == ["a"] and mid["resolved"] == [lb.step["caB"]["resolved"]], mid
        assert mid["reason"] == "counted signers {a} do not satisfy 2 of (a, b)", mid
        assert steps["caC"]["status"] == "failed" and "input step" in steps["caC"]["reason"], steps["caC"]
        assert _resolved_gets(lb, proxy) == ["caA", "caB"], why  # caC's resolution is never known
        # The missing JWS uploaded to the same server: now it verifies.
        _upload(server, lb.jws["b"]["caB"])
        r = _verify(lb, proxy)
        assert r.returncode == 0 and _report(r)["verified"] is True, describe(r) + "\n" + "\n".join(proxy.log)
