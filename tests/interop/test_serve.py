"""`vouch serve` as a Nix 2.8 binary cache, written and read by real Nix.

Small closures are built afresh every run with /bin/sh into the default store and signed with a
Nix key (`nix store sign --key-file`), so they carry Nix-made signatures. One closure per NAR
compression (`xz`, Nix's default, `zstd` and `none`) is uploaded with `nix copy --to
http://127.0.0.1:PORT[?compression=…]`, with the upload token in a netrc file (the only way Nix
sends credentials); without credentials, or with a wrong token, `nix copy` is refused and nothing
is stored. Empty chroot stores then substitute each closure from the server with `require-sigs`
and only the Nix key trusted, and `nix store verify` passes on them; with another key trusted,
substitution is refused. Also: a CA chain's realisations as `nix copy` sends them (byte-equal to
a `file://` copy) and CA substitution with `--max-jobs 0`; a second upload with another signature
merges; conflicting narinfos are refused with 409 and the original is still served; a server
started with `--sign-key-file` adds a signature that Nix accepts with only the server key trusted;
tokens are checked on every request (revocation applies at once).

Every Nix command here gets its own XDG_CACHE_HOME: Nix caches narinfo lookups, negative ones
included, so a lookup that happened before an upload must not hide the uploaded path."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
from pathlib import Path

import pytest

from interop_util import (COMPRESSION_EXT, NarInfo, ServerProc, assert_refusal, bearer, blob_files, decompress, describe,
                          ed25519_verify, hash_part, make_upload, nix32, nix_hash_to_nix32, nix_keypair, put_upload,
                          read_key, run, serve_token, write_netrc)

COMPRESSIONS = ["xz", "zstd", "none"]
SANDBOX = ["--option", "sandbox-paths", "/bin /lib /lib64 /usr"]


def _nix_file(token: str) -> str:
    closures = []
    for c in COMPRESSIONS:
        closures.append(f"""
  base_{c} = mk {{ name = "sv-base-{c}"; salt = "{token}";
    args = [ "-c" "i=0; while [ $i -lt 1500 ]; do echo \\"line $i {c} {token}\\"; i=$((i+1)); done > $out" ]; }};
  mid_{c} = mk {{ name = "sv-mid-{c}"; salt = "{token}";
    args = [ "-c" "/bin/mkdir $out; echo ${{base_{c}}} > $out/ref; /bin/ln -s ref $out/link; printf '#!/bin/sh\\\\necho {token}\\\\n' > $out/run; /bin/chmod +x $out/run" ]; }};
  top_{c} = mk {{ name = "sv-top-{c}"; salt = "{token}";
    args = [ "-c" "read a < ${{mid_{c}}}/ref; echo \\"$a ${{mid_{c}}} {token}\\" > $out" ]; }};""")
    return f"""
let
  mk = a: derivation ({{ system = builtins.currentSystem; builder = "/bin/sh"; }} // a);
  ca = a: mk ({{ __contentAddressed = true; outputHashMode = "recursive"; outputHashAlgo = "sha256"; }} // a);
in rec {{{"".join(closures)}
  caA = ca {{ name = "sv-ca-a"; args = [ "-c" "echo \\"ca a {token}\\" > $out" ]; }};
  caB = ca {{ name = "sv-ca-b"; args = [ "-c" "read x < ${{caA}}; echo \\"b [$x] from ${{caA}}\\" > $out" ]; }};
}}
"""


class Env:
    pass


def _xdg(tmp: Path) -> dict:
    """A fresh Nix cache dir (no narinfo cache from earlier lookups)."""
    d = tmp / f"xdg-{os.urandom(4).hex()}"
    d.mkdir(parents=True)
    return {"XDG_CACHE_HOME": str(d)}


def _path_info(*paths, store: Path | None = None, recursive: bool = False) -> dict:
    args = ["nix", "path-info", "--json"] + (["--store", str(store)] if store else []) + (["-r"] if recursive else [])
    return {i["path"]: i for i in json.loads(run(args + list(paths)).stdout)}


def _nix_copy(env: Env, url: str, *what, netrc: Path | None = None, check: bool = False):
    return run(["nix", "copy", "--to", url, *what, "--option", "netrc-file", str(netrc or env.no_netrc)],
               env=_xdg(env.work), check=check, timeout=300)


@pytest.fixture(scope="module")
def sv(session_tmp, vouch_bin):
    e = Env()
    e.work = session_tmp / "serve"
    e.work.mkdir()
    e.vouch_bin = vouch_bin
    salt = os.urandom(4).hex()
    e.token_text = f"sv{salt}"
    e.nix_sk, e.nix_pk_file, e.nix_pk = nix_keypair(e.work, f"nixkey-{salt}")
    e.other_sk, _, e.other_pk = nix_keypair(e.work, f"other-{salt}")
    e.srv_sk, _, e.srv_pk = nix_keypair(e.work, f"server-{salt}")
    e.nixfile = e.work / "s.nix"
    e.nixfile.write_text(_nix_file(e.token_text))
    expr = f"builtins.mapAttrs (_: d: d.drvPath) (import {e.nixfile})"
    e.drv = json.loads(run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E", expr]).stdout)
    attrs = [f"top_{c}" for c in COMPRESSIONS] + ["caB"]
    r = run(["nix", "build", "--no-link", "--json", "-f", e.nixfile, *attrs], timeout=300)
    by_drv = {item["drvPath"]: item["outputs"]["out"] for item in json.loads(r.stdout)}
    e.out = {attr: by_drv[e.drv[attr]] for attr in attrs}
    e.closure = {c: sorted(_path_info(e.out[f"top_{c}"], recursive=True)) for c in COMPRESSIONS}
    for c in COMPRESSIONS:
        assert len(e.closure[c]) == 3, e.closure[c]
    run(["nix", "store", "sign", "--key-file", e.nix_sk, "-r", *(e.out[f"top_{c}"] for c in COMPRESSIONS), e.out["caB"]])
    e.info = _path_info(*(p for ps in e.closure.values() for p in ps), e.out["caB"], recursive=True)
    e.nix_name = read_key(e.nix_sk)[0]
    e.nix_sig = {}
    for p, i in e.info.items():
        sigs = [s for s in i.get("signatures", []) if s.startswith(e.nix_name + ":")]
        assert len(sigs) == 1, ("premise: nix store sign signed", p, i)
        e.nix_sig[p] = sigs[0]

    e.data = e.work / "data"
    e.server = ServerProc(vouch_bin, e.data)
    e.token = serve_token(vouch_bin, e.data, "ci")
    e.netrc = write_netrc(e.work / "netrc", e.token)
    e.bad_netrc = write_netrc(e.work / "netrc-bad", "not-" + e.token)
    e.no_netrc = write_netrc(e.work / "netrc-none", None)

    # Refused uploads first (before anything is stored), then the real ones.
    top_xz = e.out["top_xz"]
    e.refused = {"none": _nix_copy(e, e.server.url, top_xz), "bad": _nix_copy(e, e.server.url, top_xz, netrc=e.bad_netrc)}
    e.after_refusal = {p: e.server.request("GET", f"/{hash_part(p)}.narinfo").status for p in e.closure["xz"]}
    e.blobs_after_refusal = blob_files(e.data)
    e.copied = {}
    for c in COMPRESSIONS:
        url = e.server.url + ("" if c == "xz" else f"?compression={c}")
        e.copied[c] = _nix_copy(e, url, e.out[f"top_{c}"], netrc=e.netrc)
    try:
        yield e
    finally:
        e.server.stop()


def _served(sv: Env, path: str) -> NarInfo:
    a = sv.server.request("GET", f"/{hash_part(path)}.narinfo")
    assert a.status == 200, f"{a}\nserver log:\n{sv.server.log_tail()}"
    return NarInfo.parse(a.text)


def _fresh_store(sv: Env, label: str) -> Path:
    return sv.work / f"store-{label}-{os.urandom(3).hex()}"


def _substitute(sv: Env, store: Path, paths, *trusted: str, url: str | None = None):
    return run(["nix-store", "--store", str(store), "--realise", *paths, *SANDBOX,
                "--option", "substituters", url or sv.server.url, "--option", "require-sigs", "true",
                "--option", "trusted-public-keys", " ".join(trusted)], env=_xdg(sv.work), check=False, timeout=300)


def _store_verify(store: Path, paths, *trusted: str):
    return run(["nix", "store", "verify", "--store", str(store), "-r", *paths, "--sigs-needed", "1",
                "--option", "trusted-public-keys", " ".join(trusted)], check=False)


# --------------------------------------------------------------------------- tests


def test_nix_cache_info(sv):
    a = sv.server.request("GET", "/nix-cache-info")
    assert a.status == 200, a
    fields = dict(line.split(": ", 1) for line in a.text.splitlines() if line)
    assert fields.get("StoreDir") == "/nix/store", a


def test_copy_without_credentials_is_refused(sv):
    for label, want in [("none", "401"), ("bad", "403")]:
        r = sv.refused[label]
        assert r.returncode != 0, f"nix copy without valid credentials ({label}) succeeded:\n" + describe(r)
        assert want in r.stderr.decode(), f"expected HTTP {want} in Nix's error:\n" + describe(r)
    assert set(sv.after_refusal.values()) == {404}, sv.after_refusal
    assert not [f for f in sv.blobs_after_refusal if f.startswith("nar/")], sv.blobs_after_refusal


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_nix_copy_with_netrc(sv, compression):
    r = sv.copied[compression]
    assert r.returncode == 0, describe(r) + "\nserver log:\n" + sv.server.log_tail()
    for p in sv.closure[compression]:
        ni = _served(sv, p)
        info = sv.info[p]
        assert ni.get("StorePath") == p
        assert nix_hash_to_nix32(ni.get("NarHash")) == nix_hash_to_nix32(info["narHash"]), (ni.render(), info)
        assert int(ni.get("NarSize")) == info["narSize"]
        assert sorted(ni.references) == sorted(info["references"]), (ni.render(), info)
        assert sv.nix_sig[p] in ni.get_all("Sig"), (ni.render(), sv.nix_sig[p])
        assert ni.get("Compression") == compression, ni.render()
        url = ni.get("URL")
        assert re.fullmatch(r"nar/[0-9a-df-np-sv-z]{52}\.nar" + re.escape(COMPRESSION_EXT[compression]), url), url
        head = sv.server.request("HEAD", f"/{hash_part(p)}.narinfo")
        assert head.status == 200 and head.body == b"", head
        nar = sv.server.request("GET", "/" + url)
        assert nar.status == 200, nar
        assert "sha256:" + nix32(hashlib.sha256(nar.body).digest()) == nix_hash_to_nix32(ni.get("FileHash"))
        assert len(nar.body) == int(ni.get("FileSize"))
        dump = run(["nix-store", "--dump", p]).stdout
        assert decompress(nar.body, compression) == dump, f"served NAR of {p} is not `nix-store --dump`"


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_empty_store_substitutes_and_verifies(sv, compression):
    top = sv.out[f"top_{compression}"]
    store = _fresh_store(sv, compression)
    r = _substitute(sv, store, [top], sv.nix_pk)
    assert r.returncode == 0, describe(r) + "\nserver log:\n" + sv.server.log_tail()
    got = _path_info(top, store=store, recursive=True)
    assert sorted(got) == sv.closure[compression]
    for p, i in got.items():
        assert sv.nix_sig[p] in i.get("signatures", []), i
        assert nix_hash_to_nix32(i["narHash"]) == nix_hash_to_nix32(sv.info[p]["narHash"])
        assert run(["nix-store", "--store", str(store), "--dump", p]).stdout == run(["nix-store", "--dump", p]).stdout
    v = _store_verify(store, [top], sv.nix_pk)
    assert v.returncode == 0, describe(v)
    # The signature check is real: trusting another key, the same store does not verify.
    v2 = _store_verify(store, [top], sv.other_pk)
    assert v2.returncode != 0, "nix store verify accepted paths signed by an untrusted key:\n" + describe(v2)


def test_untrusted_key_substitution_is_refused(sv):
    top = sv.out["top_xz"]
    store = _fresh_store(sv, "untrusted")
    r = _substitute(sv, store, [top], sv.other_pk)
    assert r.returncode != 0, "substituted with only an unrelated key trusted:\n" + describe(r)
    assert "signed" in r.stderr.decode() or "signature" in r.stderr.decode(), describe(r)
    q = run(["nix", "path-info", "--store", str(store), top], check=False)
    assert q.returncode != 0, "path became valid anyway:\n" + describe(q)


def test_realisations_as_nix_sent_them(sv):
    file_cache = sv.work / "ca-file-cache"
    r = run(["nix", "copy", "--to", f"file://{file_cache}", "-f", sv.nixfile, "caB"], env=_xdg(sv.work))
    r = run(["nix", "copy", "--to", sv.server.url, "-f", sv.nixfile, "caB", "--option", "netrc-file", str(sv.netrc)],
            env=_xdg(sv.work), check=False)
    assert r.returncode == 0, describe(r) + "\nserver log:\n" + sv.server.log_tail()
    dois = sorted((file_cache / "realisations").glob("*.doi"))
    assert len(dois) == 2, f"premise: nix copy of caB uploads the realisations of caB and caA: {dois}"
    ids = set(run([sv.vouch_bin, "drv", "realisation-ids", sv.drv["caB"]]).stdout.decode().split())
    assert {d.name[:-4] for d in dois} >= ids, (dois, ids)
    for d in dois:
        sent = d.read_bytes()
        for path in (f"/realisations/{d.name}", "/realisations/" + d.name.replace(":", "%3A").replace("!", "%21")):
            a = sv.server.request("GET", path)
            assert a.status == 200, f"{a}\nserver log:\n{sv.server.log_tail()}"
            assert json.loads(a.body) == json.loads(sent), (a.body, sent)
            assert a.body == sent, f"served realisation differs in bytes from what Nix wrote:\n{a.body!r}\n{sent!r}"
    # An identical re-upload is accepted and changes nothing.
    d = dois[0]
    a = sv.server.request("PUT", f"/realisations/{d.name}", d.read_bytes(), {**bearer(sv.token), "Content-Type": "application/json"})
    assert a.status == 200, a
    assert sv.server.request("GET", f"/realisations/{d.name}").body == d.read_bytes()

    # A fresh store builds nothing (--max-jobs 0) and still gets caB: realisations + CA paths substituted.
    store = _fresh_store(sv, "ca")
    b = run(["nix", "build", "--store", str(store), *SANDBOX, "--no-link", "--json", "--max-jobs", "0", "-f", sv.nixfile, "caB",
             "--option", "substituters", sv.server.url, "--option", "trusted-public-keys", sv.nix_pk],
            env=_xdg(sv.work), check=False, timeout=300)
    assert b.returncode == 0, describe(b) + "\nserver log:\n" + sv.server.log_tail()
    assert json.loads(b.stdout)[0]["outputs"]["out"] == sv.out["caB"]
    assert _store_verify(store, [sv.out["caB"]], sv.nix_pk).returncode == 0


def test_second_signature_merges(sv):
    closure = sv.closure["none"]
    top = sv.out["top_none"]
    before = {p: _served(sv, p) for p in closure}
    for p in closure:
        assert before[p].get_all("Sig") == [sv.nix_sig[p]], before[p].render()
    # Builder 2 signs the same paths with Nix; each narinfo is uploaded again with only that signature.
    sk2, _, pk2 = nix_keypair(sv.work, f"second-{os.urandom(3).hex()}")
    run(["nix", "store", "sign", "--key-file", sk2, *closure])
    name2 = read_key(sk2)[0]
    info = _path_info(*closure)
    sig2 = {}
    for p in closure:
        mine = [s for s in info[p]["signatures"] if s.startswith(name2 + ":")]
        assert len(mine) == 1
        sig2[p] = mine[0]
        ni = NarInfo.parse(before[p].render())
        ni.lines = [(k, v) for k, v in ni.lines if k != "Sig"] + [("Sig", sig2[p])]
        a = sv.server.request("PUT", f"/{hash_part(p)}.narinfo", ni.render().encode(), bearer(sv.token))
        assert a.status == 200, f"{a}\n{ni.render()}"
        after = _served(sv, p)
        assert sorted(after.get_all("Sig")) == sorted([sv.nix_sig[p], sig2[p]]), after.render()
        assert [(k, v) for k, v in after.lines if k != "Sig"] == [(k, v) for k, v in before[p].lines if k != "Sig"]
        # Uploading the merged text again is a no-op.
        a = sv.server.request("PUT", f"/{hash_part(p)}.narinfo", after.render().encode(), bearer(sv.token))
        assert a.status == 200, a
        assert _served(sv, p).render() == after.render()
    # Nix accepts the merged signatures with only the second key trusted.
    store = _fresh_store(sv, "merged")
    r = _substitute(sv, store, [top], pk2)
    assert r.returncode == 0, describe(r)
    got = _path_info(top, store=store, recursive=True)
    for p in closure:
        assert sorted(got[p]["signatures"]) == sorted([sv.nix_sig[p], sig2[p]]), got[p]
    assert _store_verify(store, [top], pk2).returncode == 0


def test_conflicting_narinfo_is_refused_with_409(sv):
    p = sv.out["top_xz"]
    original = sv.server.request("GET", f"/{hash_part(p)}.narinfo")
    assert original.status == 200
    ni = NarInfo.parse(original.text)
    # 1. Same NAR, different references.
    changed = NarInfo.parse(original.text)
    changed.set("References", "")
    a = sv.server.request("PUT", f"/{hash_part(p)}.narinfo", changed.render().encode(), bearer(sv.token))
    assert_refusal(a, 409)
    # 2. A different (valid, uploaded) NAR: different NarHash for the same store path.
    rng = random.Random(os.urandom(8))
    up = make_upload(rng, compression="none", store_path=p, references=ni.references)
    nar_put, info_put = put_upload(sv.server, up, bearer(sv.token))
    assert nar_put.status in (200, 201), nar_put
    assert_refusal(info_put, 409)
    for path in (f"/{hash_part(p)}.narinfo",):
        again = sv.server.request("GET", path)
        assert again.status == 200 and again.body == original.body, f"original narinfo not served as before: {again}"
    # The refused uploads are on record.
    c = run([sv.vouch_bin, "serve", "conflicts", "--data", sv.data], check=False)
    mine = [line for line in c.stdout.decode().splitlines() if hash_part(p) in line]
    assert c.returncode == 0 and len(mine) == 2, describe(c)
    assert any("NarHash" in line for line in mine) and any("References" in line for line in mine), describe(c)
    # ... and Nix still substitutes the original.
    store = _fresh_store(sv, "after-conflict")
    r = _substitute(sv, store, [p], sv.nix_pk)
    assert r.returncode == 0, describe(r)


def test_server_signature_with_sign_key_file(sv):
    data = sv.work / "data-signing"
    server = ServerProc(sv.vouch_bin, data, "--sign-key-file", sv.srv_sk)
    try:
        token = serve_token(sv.vouch_bin, data, "signer-test")
        netrc = write_netrc(sv.work / "netrc-signing", token)
        top = sv.out["top_zstd"]
        r = _nix_copy(sv, server.url + "?compression=zstd", top, netrc=netrc)
        assert r.returncode == 0, describe(r) + "\n" + server.log_tail()
        srv_name, srv_secret = read_key(sv.srv_sk)
        _, srv_pub = read_key(sv.work / f"{srv_name}.pk")
        for p in sv.closure["zstd"]:
            a = server.request("GET", f"/{hash_part(p)}.narinfo")
            assert a.status == 200, a
            ni = NarInfo.parse(a.text)
            sigs = ni.get_all("Sig")
            assert sv.nix_sig[p] in sigs, ni.render()
            mine = [s for s in sigs if s.startswith(srv_name + ":")]
            assert len(mine) == 1, ni.render()
            assert ed25519_verify(srv_pub, base64.b64decode(mine[0].split(":", 1)[1]), ni.fingerprint().encode()), \
                f"server signature does not verify over {ni.fingerprint()!r}"
        store = _fresh_store(sv, "server-key")
        s = _substitute(sv, store, [top], sv.srv_pk, url=server.url)
        assert s.returncode == 0, describe(s) + "\n" + server.log_tail()
        assert _store_verify(store, [top], sv.srv_pk).returncode == 0
        # Without --sign-key-file the first server's narinfos have no such signature, so the same
        # trust setting refuses them.
        store2 = _fresh_store(sv, "server-key-refused")
        s2 = _substitute(sv, store2, [top], sv.srv_pk)
        assert s2.returncode != 0, describe(s2)
    finally:
        server.stop()


def test_tokens_apply_at_once(sv):
    rng = random.Random(os.urandom(8))
    token = serve_token(sv.vouch_bin, sv.data, "short-lived")
    up = make_upload(rng, compression="xz")
    nar, info = put_upload(sv.server, up, {"Authorization": "Basic " + base64.b64encode(f"anyone:{token}".encode()).decode()})
    assert nar.status in (200, 201) and info is not None and info.status in (200, 201), (str(nar), str(info))
    run([sv.vouch_bin, "serve", "tokens", "revoke", "short-lived", "--data", sv.data])
    up2 = make_upload(rng, compression="none")
    nar2, _ = put_upload(sv.server, up2, bearer(token))
    assert_refusal(nar2, 403)
    assert sv.server.request("GET", up2.narinfo_path).status == 404
    assert sv.server.request("GET", "/" + up2.url).status == 404
    assert sv.server.request("GET", up.narinfo_path).body == up.narinfo.encode()
