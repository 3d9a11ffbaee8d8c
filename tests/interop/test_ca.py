"""Floating content-addressed derivations built by real Nix (randomised content every run):
`vouch drv resolve` must reproduce the resolved .drv that Nix wrote and recorded as the
output's deriver, and `vouch realisation verify` must accept the signed realisations Nix
uploads with `nix copy --to file://…` (and reject tampered ones)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from interop_util import (NarInfo, assert_usage_error, describe, first_diff, nix_config, rng_for,
                          run)

CA_NIX = r"""
{ token, fodHash }:
let
  mk = a: derivation ({ system = builtins.currentSystem; builder = "/bin/sh"; } // a);
  ca = a: mk ({ __contentAddressed = true; outputHashMode = "recursive"; outputHashAlgo = "sha256"; } // a);
in rec {
  caA = ca { name = "ca-a"; args = [ "-c" "echo \"I am $out ${token}\" > $out" ]; };
  caB = ca { name = "ca-b"; dep = caA;
             args = [ "-c" "read x < ${caA}; echo \"B got [$x] from ${caA}\" > $out" ]; };
  caM = ca { name = "ca-m"; outputs = [ "out" "dev" ];
             args = [ "-c" "echo lib ${token} > $out; echo \"headers for $out\" > $dev" ]; };
  caU = ca { name = "ca-u"; args = [ "-c" "read x < ${caM.dev}; read y < ${caB}; echo \"$x|$y\" > $out" ];
             "weird \"key\"" = "${caM.dev}\n\t${caM}"; };
  caFlat = ca { name = "ca-flat"; outputHashMode = "flat";
                args = [ "-c" "read x < ${caA}; echo \"flat \${#x} ${token}\" > $out" ]; };
  iaOnCa = mk { name = "ia-on-ca"; args = [ "-c" "read x < ${caA}; echo \"$x\" > $out" ]; };
  ia = mk { name = "ia-${token}"; args = [ "-c" "echo ia ${token} > $out" ]; };
  fod = mk { name = "fod"; args = [ "-c" "echo ${token} > $out" ];
             outputHashMode = "flat"; outputHashAlgo = "sha256"; outputHash = fodHash; };
  caMixed = ca { name = "ca-mixed"; outputs = [ "out" "doc" ];
                 args = [ "-c" "read a < ${ia}; read b < ${fod}; read c < ${caM}; read d < ${iaOnCa}; echo \"$a $b $c $d\" > $out; echo doc ${token} > $doc" ]; };
  iaDeep = mk { name = "ia-deep"; outputs = [ "out" "bin" ];
                args = [ "-c" "read x < ${caU}; read y < ${caMixed.doc}; echo \"$x $y\" > $out; echo bin ${token} > $bin" ]; };
}
"""

ATTRS = ["caA", "caB", "caM", "caU", "caFlat", "iaOnCa", "ia", "fod", "caMixed", "iaDeep"]
# derivations that have inputDrvs and are resolved by Nix before building
RESOLVED = ["caB", "caU", "caFlat", "iaOnCa", "caMixed", "iaDeep"]
DEFERRED_IA = ["iaOnCa", "iaDeep"]


class Chain:
    pass


@pytest.fixture(scope="session")
def chain(session_tmp) -> Chain:
    c = Chain()
    c.work = work = session_tmp / "ca"
    work.mkdir()
    rng = rng_for("ca-chain")
    token = rng.randbytes(8).hex()
    fod_hash = "sha256-" + base64.b64encode(hashlib.sha256(f"{token}\n".encode()).digest()).decode()
    (work / "ca.nix").write_text(CA_NIX)
    args = ["-f", work / "ca.nix", "--argstr", "token", token, "--argstr", "fodHash", fod_hash]
    c.sk, c.pk, c.other_pk = work / "sk", work / "pk", work / "other.pk"
    run(["nix-store", "--generate-binary-cache-key", f"ca-test-{token[:6]}", c.sk, c.pk])
    run(["nix-store", "--generate-binary-cache-key", f"ca-test-{token[:6]}", work / "other.sk", c.other_pk])
    # drv paths of every attribute (unresolved)
    expr = ("let s = import %s { token = \"%s\"; fodHash = \"%s\"; }; in "
            "builtins.mapAttrs (_: d: d.drvPath) s") % (work / "ca.nix", token, fod_hash)
    c.drv = json.loads(run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode",
                            "-E", expr]).stdout)
    installables = ATTRS + ["caM.dev", "caMixed.doc", "iaDeep.bin"]
    r = run(["nix", "build", "--no-link", "--json", *args, *installables],
            env=nix_config(f"secret-key-files = {c.sk}"))
    c.outputs: dict[str, dict[str, str]] = {}
    for b in json.loads(r.stdout):
        c.outputs.setdefault(b["drvPath"], {}).update(b["outputs"])
    c.show = json.loads(run(["nix", "show-derivation", *c.drv.values()]).stdout)
    c.deriver = {}
    for attr in ATTRS:
        outs = c.outputs[c.drv[attr]]
        infos = json.loads(run(["nix", "path-info", "--json", *outs.values()]).stdout)
        c.deriver[attr] = {i["path"]: i.get("deriver") for i in infos}
    c.cache = work / "cache"
    run(["nix", "copy", "--to", f"file://{c.cache}", *args, *installables])
    c.dois = sorted((c.cache / "realisations").glob("*.doi"))
    return c


def _inputs(chain: Chain, attr: str) -> list[str]:
    entry = chain.show[chain.drv[attr]]
    res = []
    for drv, outs in sorted(entry["inputDrvs"].items()):
        for o in outs:
            res.append(f"{drv}!{o}={chain.outputs[drv][o]}")
    return res


def _resolved_drv(chain: Chain, attr: str) -> str:
    derivers = set(chain.deriver[attr].values())
    assert len(derivers) == 1, f"premise: all outputs of {attr} share one deriver: {derivers}"
    d = derivers.pop()
    assert d and d != chain.drv[attr], f"premise: {attr} was built via a resolved drv: {d}"
    return d


@pytest.mark.parametrize("attr", RESOLVED)
def test_selfcheck_nix_resolved(chain, attr):
    """Nix side: the resolved drv exists, has no inputDrvs, and names the realised inputs."""
    d = _resolved_drv(chain, attr)
    show = json.loads(run(["nix", "show-derivation", d]).stdout)[d]
    assert show["inputDrvs"] == {}
    for spec in _inputs(chain, attr):
        assert spec.split("=", 1)[1] in show["inputSrcs"]


@pytest.mark.parametrize("attr", RESOLVED)
def test_drv_resolve_path(vouch, chain, attr):
    r = vouch.ok("drv", "resolve", chain.drv[attr], *sum((["--input", i] for i in _inputs(chain, attr)), []))
    assert r.stdout.decode().strip() == _resolved_drv(chain, attr), describe(r)


@pytest.mark.parametrize("attr", RESOLVED)
def test_drv_resolve_aterm(vouch, chain, attr):
    r = vouch.ok("drv", "resolve", chain.drv[attr], "--aterm",
                 *sum((["--input", i] for i in _inputs(chain, attr)), []))
    want = Path(_resolved_drv(chain, attr)).read_bytes()
    assert r.stdout == want, first_diff(r.stdout, want)


@pytest.mark.parametrize("attr", RESOLVED)
def test_drv_resolve_input_order_irrelevant(vouch, chain, attr):
    ins = list(reversed(_inputs(chain, attr)))
    r = vouch.ok("drv", "resolve", chain.drv[attr], *sum((["--input", i] for i in ins), []))
    assert r.stdout.decode().strip() == _resolved_drv(chain, attr), describe(r)


@pytest.mark.parametrize("attr", DEFERRED_IA)
def test_resolved_deferred_ia_outputs(vouch, chain, attr):
    """The resolved deferred-IA drv is input-addressed: vouch drv outputs gives the built paths."""
    d = _resolved_drv(chain, attr)
    r = vouch.ok("drv", "outputs", d)
    got = dict(line.split(" ", 1) for line in r.stdout.decode().splitlines())
    assert got == chain.outputs[chain.drv[attr]], describe(r)


@pytest.mark.parametrize("attr", ["ia", "fod"])
def test_static_outputs_in_system_store(vouch, chain, attr):
    r = vouch.ok("drv", "outputs", chain.drv[attr])
    got = dict(line.split(" ", 1) for line in r.stdout.decode().splitlines())
    assert got == chain.outputs[chain.drv[attr]], describe(r)


@pytest.mark.parametrize("attr", ATTRS)
def test_ca_chain_drv_show_and_path(vouch, chain, attr):
    p = chain.drv[attr]
    r = vouch.ok("drv", "show", p)
    assert json.loads(r.stdout) == {p: chain.show[p]}
    r = vouch.ok("drv", "path", p)
    assert r.stdout.decode().strip() == p


def test_drv_resolve_missing_input_is_error(vouch, chain):
    ins = _inputs(chain, "caU")
    assert len(ins) >= 2
    r = vouch("drv", "resolve", chain.drv["caU"], "--input", ins[0])
    assert_usage_error(r)


@pytest.mark.parametrize("bad", ["no-bang", "no-equals", "relative-path"])
def test_drv_resolve_bad_input_spec(vouch, chain, bad):
    spec = _inputs(chain, "caB")[0]
    drv, rest = spec.split("!", 1)
    out, path = rest.split("=", 1)
    s = {"no-bang": f"{drv}{out}={path}", "no-equals": f"{drv}!{out}{path}",
         "relative-path": f"{drv}!{out}={path[1:]}"}[bad]
    assert_usage_error(vouch("drv", "resolve", chain.drv["caB"], "--input", s))


# --------------------------------------------------------------------------- realisations

def test_selfcheck_realisations_uploaded(chain):
    assert len(chain.dois) >= 5, chain.dois
    for f in chain.dois:
        j = json.loads(f.read_text())
        assert j["signatures"], f"premise: Nix signed realisation {f.name}"
        assert f.name == j["id"] + ".doi"


def test_realisation_verify(vouch, chain):
    failures = []
    for f in chain.dois:
        r = vouch("realisation", "verify", "--trusted-key", chain.pk.read_text().strip(), f)
        if r.returncode != 0:
            failures.append(describe(r))
    assert not failures, "\n\n".join(failures)


def test_realisation_verify_wrong_key(vouch, chain):
    for f in chain.dois:
        r = vouch("realisation", "verify", "--trusted-key", chain.other_pk.read_text().strip(), f)
        assert r.returncode == 1, describe(r)


def _tampered(chain: Chain, tmp_path: Path, how: str) -> Path:
    f = next(f for f in chain.dois if json.loads(f.read_text())["dependentRealisations"])
    j = json.loads(f.read_text())
    if how == "outPath":
        j["outPath"] = "0" * 32 + j["outPath"][32:]
    elif how == "dependent":
        k = next(iter(j["dependentRealisations"]))
        j["dependentRealisations"][k] = "1" * 32 + j["dependentRealisations"][k][32:]
    elif how == "id":
        j["id"] = j["id"].replace("sha256:", "sha256:0", 1)[:-len("!out") - 1] + "!out"
    elif how == "no-signatures":
        j["signatures"] = []
    g = tmp_path / f.name
    g.write_text(json.dumps(j, separators=(",", ":"), sort_keys=True))
    return g


@pytest.mark.parametrize("how", ["outPath", "dependent", "id", "no-signatures"])
def test_realisation_tampered(vouch, chain, tmp_path, how):
    g = _tampered(chain, tmp_path, how)
    r = vouch("realisation", "verify", "--trusted-key", chain.pk.read_text().strip(), g)
    assert r.returncode == 1, describe(r)


def test_realisation_reformatted_still_valid(vouch, chain, tmp_path):
    """Signature is over the canonical compact JSON, not the file bytes."""
    f = chain.dois[0]
    g = tmp_path / f.name
    g.write_text(json.dumps(json.loads(f.read_text()), indent=2))
    r = vouch("realisation", "verify", "--trusted-key", chain.pk.read_text().strip(), g)
    assert r.returncode == 0, describe(r)


@pytest.mark.parametrize("case", ["empty", "not-json", "missing-id", "array"])
def test_realisation_bad_input(vouch, chain, tmp_path, case):
    j = json.loads(chain.dois[0].read_text())
    j.pop("id")
    text = {"empty": "", "not-json": "{nope", "missing-id": json.dumps(j), "array": "[]"}[case]
    g = tmp_path / "bad.doi"
    g.write_text(text)
    assert_usage_error(vouch("realisation", "verify", "--trusted-key", chain.pk.read_text().strip(), g))


def test_ca_cache_narinfos_verify(vouch, chain):
    """Outputs signed at build time (secret-key-files), uploaded xz-compressed with CA lines."""
    failures = []
    narinfos = sorted(chain.cache.glob("*.narinfo"))
    assert narinfos
    for f in narinfos:
        if not NarInfo.parse(f.read_text()).get("Sig"):
            continue
        r = vouch("narinfo", "verify", "--trusted-key", chain.pk.read_text().strip(), f)
        if r.returncode != 0:
            failures.append(describe(r))
    assert not failures, "\n\n".join(failures)
