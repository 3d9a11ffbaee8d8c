"""Bad input to `vouch serve`: every refusal is a 4xx with one clear line of text/plain, and
nothing is stored (the item is absent afterwards, no blob file appeared, trace queries unchanged).

Each case has a positive control next to it (the same request made right succeeds), so a test
cannot pass merely because the server refuses everything. NARs and narinfos are built in Python
(interop_util), traces are made by `vouch sign` for a derivation Nix just built, laut JWS by hand."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import time
import urllib.parse
from pathlib import Path

import pytest

from interop_util import (ServerProc, Upload, assert_refusal, basic, bearer, blob_files, ed25519_sign, make_upload,
                          nix32, put_upload, read_key, run, serve_key_add, serve_token, signed_request_headers)

MAX_NAR = 64 * 1024


class Bad:
    pass


@pytest.fixture(scope="module")
def bad(session_tmp, vouch_bin):
    b = Bad()
    b.work = session_tmp / "serve-bad"
    b.work.mkdir()
    b.vouch_bin = vouch_bin
    b.rng = random.Random(os.urandom(8))
    salt = os.urandom(4).hex()
    b.keys = {}
    for who in ("builder", "stranger"):
        sk, pk = b.work / f"{who}.sk", b.work / f"{who}.pk"
        run([vouch_bin, "key", "generate", f"bad-{who}-{salt}", "--secret-key-file", sk, "--public-key-file", pk])
        b.keys[who] = (sk, pk.read_text().strip())
    # One real build to sign traces for.
    nixfile = b.work / "b.nix"
    nixfile.write_text(f'derivation {{ name = "bad-input-{salt}"; system = builtins.currentSystem; builder = "/bin/sh"; '
                       f'args = [ "-c" "echo {salt} > $out" ]; }}\n')
    r = run(["nix", "build", "--no-link", "--json", "-f", nixfile])
    item = json.loads(r.stdout)[0]
    b.drv, b.out = item["drvPath"], item["outputs"]["out"]
    b.trace = {}
    for who in ("builder", "stranger"):
        d = b.work / f"traces-{who}"
        run([vouch_bin, "sign", "--strict", "--key-file", b.keys[who][0], "--out", d, "--drv-path", b.drv, "--out-paths", b.out])
        (f,) = d.glob("*.dsse.json")
        b.trace[who] = f.read_bytes().rstrip(b"\n")

    b.data = b.work / "data"
    b.server = ServerProc(vouch_bin, b.data, "--max-nar-size", str(MAX_NAR))
    try:
        serve_key_add(vouch_bin, b.data, b.keys["builder"][1])
        b.token = serve_token(vouch_bin, b.data, "bad-input")
        b.auth = bearer(b.token)
        yield b
    finally:
        b.server.stop()


def _refused(b: Bad, method: str, path: str, body: bytes | None, headers: dict, status, *needles):
    """Sends the request, checks the refusal, and that no blob file appeared."""
    before = blob_files(b.data)
    a = b.server.request(method, path, body, headers)
    assert_refusal(a, status, *needles)
    assert blob_files(b.data) == before, f"a blob was stored by a refused request {method} {path}"
    return a


def _absent(b: Bad, *paths: str):
    for p in paths:
        a = b.server.request("GET", p)
        assert a.status == 404, f"expected nothing stored at {p}: {a}"


def _nar_put(b: Bad, up: Upload, headers=None):
    a = b.server.request("PUT", "/" + up.url, up.file, headers if headers is not None else b.auth)
    assert a.status in (200, 201), a
    return a


# --------------------------------------------------------------------------- authentication


def test_missing_credentials_is_401_with_www_authenticate(bad):
    up = make_upload(bad.rng)
    a = _refused(bad, "PUT", "/" + up.url, up.file, {}, 401)
    assert a.headers.get("www-authenticate") == 'Basic realm="vouch"', a.headers
    _refused(bad, "PUT", up.narinfo_path, up.narinfo.encode(), {}, 401)
    _absent(bad, "/" + up.url, up.narinfo_path)
    # control: the same uploads with the token work
    nar, info = put_upload(bad.server, up, bad.auth)
    assert info is not None and info.status in (200, 201), (str(nar), str(info))


@pytest.mark.parametrize("how", ["bearer", "basic", "scheme"])
def test_bad_token_is_403(bad, how):
    up = make_upload(bad.rng)
    headers = {"bearer": bearer("x" + bad.token), "basic": basic("x" + bad.token),
               "scheme": {"Authorization": f"Token {bad.token}"}}[how]
    _refused(bad, "PUT", "/" + up.url, up.file, headers, 403)
    _absent(bad, "/" + up.url)
    _nar_put(bad, up, basic(bad.token, user="whoever"))


def test_signed_requests(bad):
    sk = bad.keys["builder"][0]
    up = make_upload(bad.rng)
    target = "/" + up.url
    stale = signed_request_headers(sk, "PUT", target, up.file, date=int(time.time()) - 3600)
    _refused(bad, "PUT", target, up.file, stale, 403, "X-Vouch-Date")
    wrong_body = signed_request_headers(sk, "PUT", target, up.file + b"x")
    _refused(bad, "PUT", target, up.file, wrong_body, 403, "does not verify")
    wrong_target = signed_request_headers(sk, "PUT", "/nar/other.nar", up.file)
    _refused(bad, "PUT", target, up.file, wrong_target, 403)
    stranger = signed_request_headers(bad.keys["stranger"][0], "PUT", target, up.file)
    _refused(bad, "PUT", target, up.file, stranger, 403, "not registered")
    _absent(bad, target)
    nar, info = put_upload(bad.server, up, signed_request_headers(sk, "PUT", target, up.file))
    assert nar.status in (200, 201), nar
    assert info.status in (401, 403), "the narinfo was sent with the NAR's signature headers, which do not cover it"
    signed = signed_request_headers(sk, "PUT", up.narinfo_path, up.narinfo.encode())
    a = bad.server.request("PUT", up.narinfo_path, up.narinfo.encode(), signed)
    assert a.status in (200, 201), a
    assert bad.server.request("GET", up.narinfo_path).body == up.narinfo.encode()


# --------------------------------------------------------------------------- narinfo and NAR


def _broken_narinfos(up: Upload, other: Upload) -> dict[str, tuple[str, str]]:
    """name -> (narinfo text, word the message should contain)."""
    lines = up.narinfo.splitlines(keepends=True)
    drop = lambda key: "".join(l for l in lines if not l.startswith(key + ":"))  # noqa: E731
    swap = lambda key, value: "".join(f"{key}: {value}\n" if l.startswith(key + ":") else l for l in lines)  # noqa: E731
    return {
        "garbage": ("this is not a narinfo\n", ""),
        "binary": ("\x00\x01\x02 StorePath\n", ""),
        "no-newline": (up.narinfo.rstrip("\n"), ""),
        "no-NarHash": (drop("NarHash"), "NarHash"),
        "no-StorePath": (drop("StorePath"), "StorePath"),
        "NarSize-0": (swap("NarSize", "0"), "NarSize"),
        "bad-StorePath": (swap("StorePath", "/nix/store/not-a-hash-at-all"), "StorePath"),
        "other-StorePath": (swap("StorePath", other.store_path), ""),  # hash part differs from the URL's
        "bad-NarHash": (swap("NarHash", "sha256:xyz"), "NarHash"),
        "bad-reference": (swap("References", "../../etc/passwd"), "reference"),
    }


@pytest.mark.parametrize("case", list(_broken_narinfos(make_upload(random.Random(0)), make_upload(random.Random(1)))))
def test_malformed_narinfo_is_400(bad, case):
    up, other = make_upload(bad.rng), make_upload(bad.rng)
    _nar_put(bad, up)
    text, word = _broken_narinfos(up, other)[case]
    _refused(bad, "PUT", up.narinfo_path, text.encode("latin-1"), bad.auth, 400, *([word] if word else []))
    _absent(bad, up.narinfo_path, other.narinfo_path)
    a = bad.server.request("PUT", up.narinfo_path, up.narinfo.encode(), bad.auth)
    assert a.status in (200, 201), f"control: {a}"


@pytest.mark.parametrize("field", ["NarHash", "NarSize", "FileHash", "FileSize", "URL"])
def test_narinfo_not_matching_its_nar_is_400(bad, field):
    rng = bad.rng
    up = make_upload(rng, compression="xz", size=3000)
    _nar_put(bad, up)
    other = make_upload(rng, compression="xz", size=3000)
    value = {"NarHash": "sha256:" + nix32(hashlib.sha256(other.nar).digest()),
             "NarSize": str(len(up.nar) + 8),
             "FileHash": "sha256:" + nix32(hashlib.sha256(other.file).digest()),
             "FileSize": str(len(up.file) + 1),
             "URL": other.url}[field]  # `other`'s NAR was never uploaded
    text = "".join(f"{field}: {value}\n" if l.startswith(field + ":") else l for l in up.narinfo.splitlines(keepends=True))
    word = {"URL": "nar/"}.get(field, field)
    _refused(bad, "PUT", up.narinfo_path, text.encode(), bad.auth, 400, word)
    _absent(bad, up.narinfo_path)
    assert bad.server.request("PUT", up.narinfo_path, up.narinfo.encode(), bad.auth).status in (200, 201)


def test_nar_that_is_not_a_nar_is_refused_at_the_narinfo(bad):
    rng = bad.rng
    junk = b"nix-archive-1 but not really" + rng.randbytes(100)
    up = make_upload(rng, compression="xz", nar=junk)
    _nar_put(bad, up)  # a NAR file is only named by its hash; its content is checked with the narinfo
    _refused(bad, "PUT", up.narinfo_path, up.narinfo.encode(), bad.auth, 400)
    _absent(bad, up.narinfo_path)


@pytest.mark.parametrize("compression", ["none", "xz", "zstd"])
def test_nar_whose_body_does_not_match_its_name_is_400(bad, compression):
    up = make_upload(bad.rng, compression=compression)
    body = bytearray(up.file)
    body[len(body) // 2] ^= 1
    _refused(bad, "PUT", "/" + up.url, bytes(body), bad.auth, 400)
    _refused(bad, "PUT", "/" + up.url, up.file[:-1], bad.auth, 400)
    _absent(bad, "/" + up.url)
    _nar_put(bad, up)
    a = bad.server.request("GET", "/" + up.url)
    assert a.status == 200 and a.body == up.file, a


@pytest.mark.parametrize("name", ["nar/abc.nar", "nar/" + "0" * 52 + ".tar", "nar/" + "e" * 52 + ".nar",
                                  "nar/" + "0" * 52 + ".nar.bz2", "nar/" + "0" * 52 + ".nar.xz.xz"])
def test_bad_nar_names_are_4xx(bad, name):
    _refused(bad, "PUT", "/" + name, b"x" * 10, bad.auth, (400, 404, 415))


# --------------------------------------------------------------------------- sizes


def test_oversize_bodies_are_413(bad):
    rng = bad.rng
    big_nar = make_upload(rng, size=MAX_NAR + 1000)
    _refused(bad, "PUT", "/" + big_nar.url, big_nar.file, bad.auth, 413)
    _absent(bad, "/" + big_nar.url)
    ok = make_upload(rng, size=MAX_NAR - 1000)
    _nar_put(bad, ok)
    # narinfo > 1 MiB (a long but otherwise valid narinfo)
    filler = "".join(f"Sig: k{i}:{base64.b64encode(rng.randbytes(64)).decode()}\n" for i in range((1 << 20) // 90 + 10))
    _refused(bad, "PUT", ok.narinfo_path, (ok.narinfo + filler).encode(), bad.auth, 413)
    _absent(bad, ok.narinfo_path)
    # realisation > 1 MiB
    rid = f"sha256:{rng.randbytes(32).hex()}!out"
    doi = json.dumps({"dependentRealisations": {}, "id": rid, "outPath": Path(ok.store_path).name,
                      "signatures": ["x" * (1 << 20)]}).encode()
    _refused(bad, "PUT", f"/realisations/{rid}.doi", doi, bad.auth, 413)
    _absent(bad, f"/realisations/{rid}.doi")
    # trace > 4 MiB
    env = json.loads(bad.trace["builder"])
    env["padding"] = "x" * (4 << 20)
    _refused(bad, "POST", "/api/v1/traces", json.dumps(env).encode(), {"Content-Type": "application/json"}, 413)
    # build log > 64 MiB
    log = f"/log/{Path(bad.drv).name}"
    _refused(bad, "PUT", log, b"l" * ((64 << 20) + 1), bad.auth, 413)
    _absent(bad, log)
    # declared size only: a Content-Length above the limit is refused before the body is read
    a = bad.server.request("PUT", "/" + make_upload(rng).url, b"", {**bad.auth, "Content-Length": str(1 << 40)}, timeout=10)
    assert a.status == 413, a


# --------------------------------------------------------------------------- paths


TRAVERSALS = [
    ("GET", "/nar/../x"), ("GET", "/nar/%2e%2e/x"), ("GET", "/nar/%2E%2E/vouch.sqlite"), ("GET", "/log/..%2fetc"),
    ("GET", "/log/..%2f..%2fvouch.sqlite"), ("GET", "/log/%2e%2e%2f%2e%2e%2fvouch.sqlite"), ("GET", "/%2e%2e/vouch.sqlite"),
    ("GET", "/nar/..%5c..%5cvouch.sqlite"), ("GET", "/log/.%2e/etc/passwd"), ("GET", "/nar/./x"),
    ("GET", "/log/x%00.drv"), ("HEAD", "/nar/../../vouch.sqlite"), ("GET", "/realisations/..%2f..%2fvouch.sqlite"),
    ("PUT", "/log/..%2f..%2fescaped"), ("PUT", "/nar/..%2f..%2fescaped.nar"), ("PUT", "/log/../escaped"),
    ("PUT", "/realisations/..%2fescaped.doi"),
]


@pytest.mark.parametrize("method,path", TRAVERSALS)
def test_path_traversal_is_400(bad, method, path):
    before = sorted(str(p.relative_to(bad.work)) for p in bad.work.rglob("*") if "tmp" not in p.parts)
    body = b"escaped" if method == "PUT" else None
    a = bad.server.request(method, path, body, bad.auth if method == "PUT" else {})
    if method == "HEAD":
        assert a.status == 400, a
    else:
        assert_refusal(a, 400)
    assert b"SQLite format" not in a.body and b"root:" not in a.body, a
    after = sorted(str(p.relative_to(bad.work)) for p in bad.work.rglob("*") if "tmp" not in p.parts)
    new = [p for p in after if p not in before and not p.startswith("data/") and not p.endswith(".log")]
    assert not new and not [p for p in after if "escaped" in p], (new, path)


def test_build_log_round_trip_and_names(bad):
    log = f"/log/{Path(bad.drv).name}"
    text = f"build log of {bad.drv}\n".encode()
    _refused(bad, "PUT", log, text, {}, 401)
    _refused(bad, "PUT", "/log/not-a-drv", text, bad.auth, 400)
    a = bad.server.request("PUT", log, text, bad.auth)
    assert a.status in (200, 201), a
    assert bad.server.request("GET", log).body == text


# --------------------------------------------------------------------------- realisations


def test_bad_realisations_are_400(bad):
    rng = bad.rng
    rid = f"sha256:{rng.randbytes(32).hex()}!out"
    other = f"sha256:{rng.randbytes(32).hex()}!out"
    out = f"{nix32(rng.randbytes(20))}-thing"
    good = json.dumps({"dependentRealisations": {}, "id": rid, "outPath": out, "signatures": []},
                      separators=(",", ":"), sort_keys=True).encode()
    cases = {
        "id-mismatch": (f"/realisations/{other}.doi", good),
        "not-json": (f"/realisations/{rid}.doi", b"{not json"),
        "no-outPath": (f"/realisations/{rid}.doi", json.dumps({"dependentRealisations": {}, "id": rid, "signatures": []}).encode()),
        "bad-outPath": (f"/realisations/{rid}.doi", good.replace(out.encode(), b"../../etc")),
        "bad-id": ("/realisations/sha256:xyz!out.doi", good.replace(rid.encode(), b"sha256:xyz!out")),
    }
    for name, (path, body) in cases.items():
        _refused(bad, "PUT", path, body, {**bad.auth, "Content-Type": "application/json"}, 400)
    _absent(bad, f"/realisations/{rid}.doi", f"/realisations/{other}.doi")
    a = bad.server.request("PUT", f"/realisations/{rid}.doi", good, {**bad.auth, "Content-Type": "application/json"})
    assert a.status in (200, 201), a
    assert json.loads(bad.server.request("GET", f"/realisations/{rid}.doi").body) == json.loads(good)


# --------------------------------------------------------------------------- traces


def _signer_ids(bad: Bad, who: str) -> list[str]:
    name = bad.keys[who][1].split(":", 1)[0]
    a = bad.server.request("GET", f"/api/v1/traces?signer={urllib.parse.quote(name)}")
    assert a.status == 200, a
    return [t["id"] for t in json.loads(a.body)["traces"]]


def _post_trace(bad: Bad, body: bytes, content_type="application/json"):
    return bad.server.request("POST", "/api/v1/traces", body, {"Content-Type": content_type})


def test_trace_from_an_unregistered_key_is_403(bad):
    a = _post_trace(bad, bad.trace["stranger"])
    assert_refusal(a, 403, "not registered")
    # ... also with a token: the trace must still be signed by a registered builder
    a = bad.server.request("POST", "/api/v1/traces", bad.trace["stranger"], {**bad.auth, "Content-Type": "application/json"})
    assert a.status == 403, a
    assert _signer_ids(bad, "stranger") == []


def test_tampered_traces_are_refused(bad):
    env = json.loads(bad.trace["builder"])
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[5] ^= 0x40
    flipped = dict(env, signatures=[dict(env["signatures"][0], sig=base64.b64encode(bytes(sig)).decode())])
    stmt = json.loads(base64.b64decode(env["payload"]))
    stmt["predicate"]["runDetails"]["metadata"]["invocationId"] = "00000000-0000-4000-8000-000000000000"
    edited = dict(env, payload=base64.b64encode(json.dumps(stmt, sort_keys=True, separators=(",", ":")).encode()).decode())
    before = _signer_ids(bad, "builder")
    for name, e in [("flipped signature", flipped), ("edited payload", edited)]:
        a = _post_trace(bad, json.dumps(e).encode())
        assert_refusal(a, 403, "signature")
    for body in [b"{", b"[]", json.dumps(dict(env, payloadType="text/plain")).encode(), b'{"payload":"AA==","signatures":[]}']:
        assert_refusal(_post_trace(bad, body), 400)
    assert _signer_ids(bad, "builder") == before, "a refused trace was stored"
    tid = hashlib.sha256(bad.trace["builder"]).hexdigest()
    assert tid not in before
    # control: the untouched trace is accepted, once
    first = _post_trace(bad, bad.trace["builder"])
    assert first.status == 201, first
    assert _post_trace(bad, bad.trace["builder"]).status == 200
    assert _signer_ids(bad, "builder") == before + [tid]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _laut(bad: Bad, header: dict, sign: bool) -> str:
    out = Path(bad.out).name
    nar_hash = run(["nix-store", "--query", "--hash", bad.out]).stdout.decode().strip()
    payload = {"in": {"rdrv_aterm_ca": Path(bad.drv).name[:32]}, "out": {"nix": {"out": {"path": out, "hash": nar_hash}}}}
    h, p = _b64url(json.dumps(header).encode()), _b64url(json.dumps(payload).encode())
    if not sign:
        return f"{h}.{p}."
    _, secret = read_key(bad.keys["builder"][0])
    return f"{h}.{p}.{_b64url(ed25519_sign(secret, f'{h}.{p}'.encode()))}"


def test_laut_jws_with_alg_none_is_refused(bad):
    hash_part = Path(bad.drv).name[:32]
    for header, sign in [({"alg": "none", "type": "laut", "v": "2"}, False), ({"alg": "none", "type": "laut", "v": "2"}, True),
                         ({"alg": "HS256", "type": "laut", "v": "2"}, True)]:
        a = _post_trace(bad, _laut(bad, header, sign).encode(), "application/jose")
        assert_refusal(a, (400, 403), "alg")
    got = bad.server.request("GET", f"/traces/{hash_part}")
    assert got.status == 404 or json.loads(got.body) == {"signatures": []}, got
    # control: the same JWS with alg EdDSA, signed by the registered builder, is stored and served laut-style
    jws = _laut(bad, {"alg": "EdDSA", "type": "laut", "v": "2"}, True)
    a = _post_trace(bad, jws.encode(), "application/jose")
    assert a.status == 201, a
    served = bad.server.request("GET", f"/traces/{hash_part}")
    assert served.status == 200 and json.loads(served.body) == {"signatures": [jws]}, served
