"""End to end: Nix 2.8 builds with `vouch sign --to` a `vouch serve` as post-build-hook, the server
answers trace queries, and `vouch verify --cache` checks closures against it.

An input-addressed chain (a fixed-output derivation, a step reading a `builtins.toFile` source, a
step on both) and a content-addressed chain (ca-a -> ca-b -> a deferred IA step) are built once
(fresh salt every run). The hook runs `vouch sign` for two builder keys registered with the
server: builder A uploads with a request signed by its key (no token), builder B with an upload
token (`--token-file`); both also keep the envelope (`--out`) so the test can compare what the
server answers with what was signed. Then: every trace is found by its unresolved derivation,
its resolved derivation, each output path and its signer, exactly as signed; `/api/v1/signers`
counts them; the current-Nix build-trace entry of a resolved CA derivation names its output; and
`vouch verify TARGET --policy 2-of-2 --cache URL` verifies both chains. On a second server that
holds B's trace of one step modified and re-signed by B (B now claims another output), or lacks
B's traces of one step, verification fails naming exactly that step."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import urllib.parse
from pathlib import Path

import pytest

from interop_util import ServerProc, builder_keys, chain_nix_file, describe, run, serve_key_add, serve_token, write_multi_hook
from trace_util import PAYLOAD_TYPE, b64, canonical, ed25519_keypair_from_nix, load_envelope, sign_pae, statement_of


TARGETS = {"ia": ("iaB", ["fod", "iaA", "iaB"]), "ca": ("deferred", ["caA", "caB", "deferred"])}


class E2E:
    pass


@pytest.fixture(scope="module")
def e2e(session_tmp, vouch_bin):
    b = E2E()
    b.work = session_tmp / "serve-e2e"
    b.work.mkdir()
    b.vouch_bin = vouch_bin
    salt = os.urandom(4).hex()
    b.token_text = f"e{salt}"
    b.keys = builder_keys(vouch_bin, b.work, "e2e", salt)
    b.name = {w: k[1].split(":", 1)[0] for w, k in b.keys.items()}
    b.data = b.work / "data"
    b.server = ServerProc(vouch_bin, b.data)
    try:
        for who in ("a", "b"):
            serve_key_add(vouch_bin, b.data, b.keys[who][1])
        token_file = b.work / "token-b"
        token_file.write_text(serve_token(vouch_bin, b.data, "builder-b") + "\n")
        b.out_dirs = {w: b.work / f"traces-{w}" for w in ("a", "b")}
        b.hook_log, b.sign_log = b.work / "hook.log", b.work / "sign.log"
        hook = write_multi_hook(b.work / "hook.sh", b.hook_log, [
            [vouch_bin, "sign", "--strict", "--key-file", b.keys["a"][0], "--out", b.out_dirs["a"], "--to", b.server.url],
            [vouch_bin, "sign", "--strict", "--key-file", b.keys["b"][0], "--out", b.out_dirs["b"], "--to", b.server.url,
             "--token-file", token_file],
        ], b.sign_log)
        b.nixfile = b.work / "e.nix"
        b.nixfile.write_text(chain_nix_file(b.token_text, "e"))
        expr = f"builtins.mapAttrs (_: d: d.drvPath) (import {b.nixfile})"
        b.drv = json.loads(run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E", expr]).stdout)
        r = run(["nix", "build", "--no-link", "--json", "-f", b.nixfile, "iaB", "deferred", "--option", "post-build-hook", hook],
                check=False, timeout=300)
        assert r.returncode == 0, (describe(r) + "\nsign log:\n" + (b.sign_log.read_text() if b.sign_log.exists() else "")
                                   + "\nserver log:\n" + b.server.log_tail())
        b.calls = [tuple(line.split("\t")) for line in b.hook_log.read_text().splitlines()]
        # Local copies of what was signed (and uploaded): file -> (envelope, statement, signer)
        b.local = []
        for who in ("a", "b"):
            for f in sorted(b.out_dirs[who].glob("*.dsse.json")):
                env = load_envelope(f)
                b.local.append({"who": who, "file": f, "env": env, "stmt": statement_of(env),
                                "id": hashlib.sha256(f.read_bytes().rstrip(b"\n")).hexdigest()})
        yield b
    finally:
        b.server.stop()


def _params(s: dict) -> dict:
    return s["predicate"]["buildDefinition"]["externalParameters"]


def _get_json(server: ServerProc, path: str) -> dict:
    a = server.request("GET", path)
    assert a.status == 200, f"{a}\nserver log:\n{server.log_tail()}"
    try:
        return json.loads(a.body)
    except ValueError:
        raise AssertionError(f"not JSON: {a}")


def _query(server: ServerProc, **q) -> list[dict]:
    (k, v), = q.items()
    return _get_json(server, f"/api/v1/traces?{k}={urllib.parse.quote(v, safe='')}")["traces"]


def _ids(traces) -> list[str]:
    return sorted(t["id"] for t in traces)


def _check_answer(e2e, traces, expected: list[dict], what: str):
    assert _ids(traces) == sorted(x["id"] for x in expected), (what, traces, [x["file"].name for x in expected])
    by_id = {x["id"]: x for x in expected}
    for t in traces:
        x = by_id[t["id"]]
        assert t["format"] == "dsse", t
        assert t["signer"] == e2e.keys[x["who"]][1], (t["signer"], x["who"])
        assert t["envelope"] == x["env"], f"{what}: served envelope differs from what `vouch sign` signed ({x['file'].name})"


def test_hook_signed_every_call_for_both_builders(e2e):
    called = {d for d, _ in e2e.calls}
    for attr in ["fod", "iaA", "iaB", "caA", "caB", "deferred"]:
        assert e2e.drv[attr] in called, (attr, e2e.calls)
    for who in ("a", "b"):
        assert sorted(_params(x["stmt"])["derivation"] for x in e2e.local if x["who"] == who) == sorted(d for d, _ in e2e.calls)


def test_traces_by_derivation(e2e):
    drvs = {d for d, _ in e2e.calls} | {_params(x["stmt"]).get("resolvedDerivation") for x in e2e.local} - {None}
    for drv in sorted(drvs):
        expected = [x for x in e2e.local if drv in (_params(x["stmt"])["derivation"], _params(x["stmt"]).get("resolvedDerivation"))]
        assert expected
        _check_answer(e2e, _query(e2e.server, drv=drv), expected, f"?drv={drv}")
    # The unresolved CA steps are also found by the resolved .drv Nix built for them.
    for attr in ("caB", "deferred"):
        unresolved = [x for x in e2e.local if _params(x["stmt"])["derivation"] == e2e.drv[attr]]
        assert len(unresolved) == 2, (attr, [x["file"].name for x in e2e.local])
        res = _params(unresolved[0]["stmt"]).get("resolvedDerivation")
        if res:  # caB; `deferred` resolves to an input-addressed derivation (no resolvedDerivation)
            ids = _ids(_query(e2e.server, drv=res))
            assert all(x["id"] in ids for x in unresolved), (attr, res, ids)


def test_traces_by_output(e2e):
    outputs = sorted({s["name"] for x in e2e.local for s in x["stmt"]["subject"]})
    assert len(outputs) >= 6
    for out in outputs:
        expected = [x for x in e2e.local if out in [s["name"] for s in x["stmt"]["subject"]]]
        _check_answer(e2e, _query(e2e.server, output=out), expected, f"?output={out}")
    assert _query(e2e.server, output="/nix/store/" + "0" * 32 + "-nothing") == []


def test_traces_by_signer_and_signers(e2e):
    for who in ("a", "b"):
        expected = [x for x in e2e.local if x["who"] == who]
        _check_answer(e2e, _query(e2e.server, signer=e2e.name[who]), expected, f"?signer={e2e.name[who]}")
    signers = _get_json(e2e.server, "/api/v1/signers")["signers"]
    got = {s["publicKey"]: s for s in signers}
    for who in ("a", "b"):
        s = got.get(e2e.keys[who][1])
        assert s is not None, signers
        assert s["traces"] == len(e2e.calls) and s["registered"] is True, s


def test_bulk_query_answers_each_trace_once(e2e):
    body = json.dumps({"derivations": sorted({d for d, _ in e2e.calls}),
                       "outputs": sorted({s["name"] for x in e2e.local for s in x["stmt"]["subject"]})}).encode()
    a = e2e.server.request("POST", "/api/v1/traces/query", body, {"Content-Type": "application/json"})
    assert a.status == 200, a
    traces = json.loads(a.body)["traces"]
    assert len(traces) == len({t["id"] for t in traces}), "a trace answered twice"
    _check_answer(e2e, traces, e2e.local, "bulk query")


def test_build_trace_entry_of_a_resolved_ca_derivation(e2e):
    unresolved = next(x for x in e2e.local if _params(x["stmt"])["derivation"] == e2e.drv["caB"])
    res = _params(unresolved["stmt"])["resolvedDerivation"]
    out = unresolved["stmt"]["subject"][0]["name"]
    entry = _get_json(e2e.server, f"/build-trace-v2/{Path(res).name}/out.doi")
    assert entry.get("outPath") == Path(out).name, entry


def _policy(b, path: Path) -> Path:
    path.write_text("[keys]\n"
                    f"a = \"{b.keys['a'][1]}\"\n"
                    f"b = \"{b.keys['b'][1]}\"\n\n"
                    "[trust]\nthreshold = 2\nof = [\"a\", \"b\"]\n\n"
                    "[fixed-output]\nvouched-by = { threshold = 2, of = [\"a\", \"b\"] }\n")
    return path


def _verify(b, target: str, url: str):
    return run([b.vouch_bin, "verify", target, "--policy", _policy(b, b.work / "policy.toml"), "--cache", url, "--json"],
               check=False, timeout=120)


def _report(r) -> dict:
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise AssertionError("no JSON report:\n" + describe(r))


@pytest.mark.parametrize("chain", sorted(TARGETS))
def test_verify_two_of_two_from_the_server(e2e, chain):
    target, attrs = TARGETS[chain]
    r = _verify(e2e, e2e.drv[target], e2e.server.url)
    assert r.returncode == 0, describe(r) + "\nserver log:\n" + e2e.server.log_tail()
    rep = _report(r)
    assert rep["verified"] is True and rep["lowestFailures"] == [], rep
    steps = {s["derivation"]: s for s in rep["steps"]}
    assert set(steps) == {e2e.drv[a] for a in attrs}, rep
    for s in rep["steps"]:
        assert s["status"] == "verified" and s["signers"] == ["a", "b"], s


def _second_server(e2e, label: str, traces: list[bytes]) -> ServerProc:
    data = e2e.work / f"data-{label}"
    server = ServerProc(e2e.vouch_bin, data)
    for who in ("a", "b"):
        serve_key_add(e2e.vouch_bin, data, e2e.keys[who][1])
    for body in traces:
        a = server.request("POST", "/api/v1/traces", body, {"Content-Type": "application/json"})
        assert a.status == 201, a
    return server


def _resign(e2e, env: dict, who: str) -> bytes:
    """B's envelope with one output digest changed, validly signed again by B."""
    stmt = json.loads(base64.b64decode(env["payload"]))
    d = stmt["subject"][0]["digest"]["sha256"]
    stmt["subject"][0]["digest"]["sha256"] = ("0" if d[0] != "0" else "1") + d[1:]
    payload = canonical(stmt)
    _, seed, _pub = ed25519_keypair_from_nix(e2e.keys[who][0])
    out = copy.deepcopy(env)
    out["payload"] = b64(payload)
    out["signatures"] = [{"keyid": e2e.keys[who][1], "sig": b64(sign_pae(seed, PAYLOAD_TYPE, payload))}]
    return json.dumps(out).encode()


@pytest.mark.parametrize("chain,step,how", [("ia", "iaB", "re-signed"), ("ca", "caB", "missing")])
def test_verify_fails_at_the_altered_step(e2e, chain, step, how):
    target, attrs = TARGETS[chain]
    victim = e2e.drv[step]
    # B's traces of the step: its own .drv and, for a resolved step, the resolved .drv Nix built.
    hit = [x for x in e2e.local if x["who"] == "b" and victim == _params(x["stmt"])["derivation"]]
    assert len(hit) == 1, [x["file"].name for x in e2e.local]
    resolved = _params(hit[0]["stmt"]).get("resolvedDerivation")
    if resolved and resolved != victim:
        hit += [x for x in e2e.local if x["who"] == "b" and _params(x["stmt"])["derivation"] == resolved]
    bodies = [x["file"].read_bytes().rstrip(b"\n") for x in e2e.local if x not in hit]
    if how == "re-signed":
        bodies += [_resign(e2e, x["env"], "b") for x in hit]
    server = _second_server(e2e, f"{chain}-{how}", bodies)
    try:
        r = _verify(e2e, e2e.drv[target], server.url)
        assert r.returncode == 1, describe(r)
        rep = _report(r)
        assert rep["verified"] is False and rep["lowestFailures"] == [victim], rep
        steps = {s["derivation"]: s for s in rep["steps"]}
        assert steps[victim]["status"] == "failed", steps[victim]
        if how == "missing":
            assert "b" not in steps[victim]["signers"], steps[victim]
        else:  # A and B each vouch for a different content of the target's output; neither has 2 of 2
            contents = [c for cs in steps[victim]["outputs"].values() for c in cs]
            assert len(contents) == 2 and sorted(c["signers"] for c in contents) == [["a"], ["b"]], steps[victim]
        for a in attrs[:attrs.index(step)]:
            assert steps[e2e.drv[a]]["status"] == "verified", steps[e2e.drv[a]]
        t = run([e2e.vouch_bin, "verify", e2e.drv[target], "--policy", e2e.work / "policy.toml", "--cache", server.url],
                check=False, timeout=120)
        assert t.returncode == 1 and victim in t.stdout.decode() and "NOT VERIFIED" in t.stdout.decode(), describe(t)
    finally:
        server.stop()
