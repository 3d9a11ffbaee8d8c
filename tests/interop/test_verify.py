"""`vouch verify` on closures really built by Nix 2.8 (fresh salt every run).

An input-addressed chain (a fixed-output derivation, a step reading a `builtins.toFile`
source, a step on both) and a content-addressed chain (ca-a -> ca-b -> a deferred IA step)
are built once with `vouch sign` as post-build-hook under key A; the hook logs every
DRV_PATH/OUT_PATHS it sees. Builder B's traces are then made by replaying each hook call with
`vouch sign --key-file B --drv-path P --out-paths O`. A 2-of-2 policy over A and B must verify
both targets, refuse a closure whose B trace was edited after signing (the edited step is the
lowest failure), and refuse A's traces alone naming the rule."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest

from interop_util import builder_keys, chain_nix_file, describe, run, write_hook


class Built:
    pass


@pytest.fixture(scope="module")
def vb(session_tmp, vouch_bin) -> Built:
    b = Built()
    b.work = session_tmp / "verify"
    b.work.mkdir()
    b.vouch_bin = vouch_bin
    salt = os.urandom(4).hex()
    b.token = f"v{salt}"
    b.keys = builder_keys(vouch_bin, b.work, "verify", salt)
    b.nixfile = b.work / "v.nix"
    b.nixfile.write_text(chain_nix_file(b.token, "v"))

    b.traces_a, b.traces_b = b.work / "traces-a", b.work / "traces-b"
    b.hook_log, b.sign_log = b.work / "hook.log", b.work / "sign.log"
    hook = b.work / "hook.sh"
    sign = [vouch_bin, "sign", "--strict", "--key-file", b.keys["a"][0], "--out", b.traces_a]
    write_hook(hook, b.hook_log, sign, b.sign_log)

    expr = f"builtins.mapAttrs (_: d: d.drvPath) (import {b.nixfile})"
    b.drv = json.loads(run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E", expr]).stdout)
    run(["nix", "build", "--no-link", "-f", b.nixfile, "iaB", "deferred", "--option", "post-build-hook", hook], timeout=300)

    b.calls = [tuple(line.split("\t")) for line in b.hook_log.read_text().splitlines()]
    for drv, outs in b.calls:  # builder B: the same builds, signed with its key
        r = run([vouch_bin, "sign", "--strict", "--key-file", b.keys["b"][0], "--out", b.traces_b,
                 "--drv-path", drv, "--out-paths", outs], check=False)
        assert r.returncode == 0, describe(r)

    b.policy = b.work / "policy.toml"
    b.policy.write_text(_policy(b, 2))
    return b


def _policy(b: Built, k: int) -> str:
    return ("[keys]\n"
            f"a = \"{b.keys['a'][1]}\"\n"
            f"b = \"{b.keys['b'][1]}\"\n\n"
            "[trust]\n"
            f"threshold = {k}\n"
            "of = [\"a\", \"b\"]\n\n"
            "[fixed-output]\n"
            f"vouched-by = {{ threshold = {k}, of = [\"a\", \"b\"] }}\n")


def _verify(vb: Built, target: str, *trace_dirs: Path, policy: Path | None = None, json_out: bool = True):
    args = [vb.vouch_bin, "verify", target, "--policy", policy or vb.policy]
    for d in trace_dirs:
        args += ["--traces", d]
    if json_out:
        args.append("--json")
    return run(args, check=False, timeout=120)


def _report(r) -> dict:
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise AssertionError("no JSON report:\n" + describe(r))


def _envelope_for(dir_: Path, drv: str) -> Path:
    files = [f for f in dir_.glob("*.dsse.json") if f.name.startswith(Path(drv).name + ".")]
    assert len(files) == 1, (drv, sorted(p.name for p in dir_.iterdir()))
    return files[0]


TARGETS = {"ia": ("iaB", ["fod", "iaA", "iaB"]), "ca": ("deferred", ["caA", "caB", "deferred"])}
LEAVES = {"ia": ["fod", "iaA"], "ca": ["caA"]}  # steps without input derivations


def test_selfcheck_hook_calls(vb):
    called = {d for d, _ in vb.calls}
    for attr in ["fod", "iaA", "iaB", "caA", "caB", "deferred"]:
        assert vb.drv[attr] in called, (attr, vb.calls)
    assert len(list(vb.traces_a.glob("*.dsse.json"))) == len(vb.calls), vb.sign_log.read_text()
    assert len(list(vb.traces_b.glob("*.dsse.json"))) == len(vb.calls)


@pytest.mark.parametrize("chain", sorted(TARGETS))
def test_two_of_two_verifies(vb, chain):
    target, attrs = TARGETS[chain]
    r = _verify(vb, vb.drv[target], vb.traces_a, vb.traces_b)
    assert r.returncode == 0, describe(r)
    rep = _report(r)
    assert rep["verified"] is True and rep["reason"] is None and rep["lowestFailures"] == [], rep
    assert rep["target"] == vb.drv[target]
    steps = {s["derivation"]: s for s in rep["steps"]}
    assert set(steps) == {vb.drv[a] for a in attrs}, rep
    for s in rep["steps"]:
        assert s["status"] == "verified", s
        assert s["signers"] == ["a", "b"], s
        assert s["rejected"] == [], s
        for contents in s["outputs"].values():
            assert len(contents) == 1 and contents[0]["signers"] == ["a", "b"], s
    assert [s["derivation"] for s in rep["steps"]][-1] == vb.drv[target], "inputs first"
    if chain == "ca":
        assert steps[vb.drv["caA"]]["kind"] == "content-addressed"
        assert steps[vb.drv["deferred"]]["kind"] == "deferred"
    # The human-readable report agrees.
    t = _verify(vb, vb.drv[target], vb.traces_a, vb.traces_b, json_out=False)
    assert t.returncode == 0, describe(t)
    assert f"VERIFIED {vb.drv[target]}" in t.stdout.decode(), describe(t)


@pytest.mark.parametrize("chain,step", [("ia", "iaA"), ("ca", "caA")])
def test_edited_trace_breaks_the_closure_there(vb, chain, step, tmp_path):
    target, attrs = TARGETS[chain]
    tampered = tmp_path / "traces-b"
    shutil.copytree(vb.traces_b, tampered)
    f = _envelope_for(tampered, vb.drv[step])
    env = json.loads(f.read_bytes())
    stmt = json.loads(base64.b64decode(env["payload"]))
    digest = stmt["subject"][0]["digest"]["sha256"]
    stmt["subject"][0]["digest"]["sha256"] = ("0" if digest[0] != "0" else "1") + digest[1:]
    env["payload"] = base64.b64encode(json.dumps(stmt, sort_keys=True, separators=(",", ":")).encode()).decode()
    f.write_text(json.dumps(env))

    r = _verify(vb, vb.drv[target], vb.traces_a, tampered)
    assert r.returncode == 1, describe(r)
    rep = _report(r)
    assert rep["verified"] is False, rep
    assert rep["lowestFailures"] == [vb.drv[step]], rep
    steps = {s["derivation"]: s for s in rep["steps"]}
    broken = steps[vb.drv[step]]
    assert broken["status"] == "failed" and broken["signers"] == ["a"], broken
    assert any("signature does not verify" in x for x in broken["rejected"]), broken
    for a in attrs[attrs.index(step) + 1:]:
        assert steps[vb.drv[a]]["status"] == "failed", steps[vb.drv[a]]
        assert "input step" in (steps[vb.drv[a]]["reason"] or ""), steps[vb.drv[a]]
    for a in attrs[:attrs.index(step)]:
        assert steps[vb.drv[a]]["status"] == "verified", steps[vb.drv[a]]


@pytest.mark.parametrize("chain", sorted(TARGETS))
def test_one_builder_is_not_two_of_two(vb, chain):
    target, attrs = TARGETS[chain]
    r = _verify(vb, vb.drv[target], vb.traces_a)
    assert r.returncode == 1, describe(r)
    rep = _report(r)
    assert rep["verified"] is False
    leaves = sorted(vb.drv[a] for a in LEAVES[chain])
    assert sorted(rep["lowestFailures"]) == leaves, rep
    for leaf in leaves:
        reason = {s["derivation"]: s for s in rep["steps"]}[leaf]["reason"]
        assert "{a}" in reason and "2 of (a, b)" in reason, reason
    t = _verify(vb, vb.drv[target], vb.traces_a, json_out=False)
    assert t.returncode == 1
    out = t.stdout.decode()
    assert "the closure breaks at:" in out and "2 of (a, b)" in out and f"NOT VERIFIED {vb.drv[target]}" in out, describe(t)
    # ... while a 1-of-2 policy accepts A alone.
    p1 = vb.work / "policy-1.toml"
    p1.write_text(_policy(vb, 1))
    assert _verify(vb, vb.drv[target], vb.traces_a, policy=p1).returncode == 0


def test_bad_policy_is_exit_2(vb, tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(_policy(vb, 2).replace('of = ["a", "b"]\n\n[fixed', 'of = ["a", "mallory"]\n\n[fixed'))
    r = _verify(vb, vb.drv["iaB"], vb.traces_a, vb.traces_b, policy=p)
    assert r.returncode == 2, describe(r)
    assert "unknown key 'mallory'" in r.stderr.decode() and str(p) in r.stderr.decode(), describe(r)


def test_missing_input_derivation_is_exit_2(vb, tmp_path):
    """The closure is loaded on all cores; an input .drv that is nowhere is a clear input error."""
    top, dep = Path(vb.drv["iaB"]), Path(vb.drv["iaA"])
    # Another last hash character keeps the inputs in the sorted order the ATerm requires.
    missing = f"{dep.parent}/{dep.name[:31]}{'1' if dep.name[31] == '0' else '0'}{dep.name[32:]}"
    copy = tmp_path / top.name
    copy.write_text(top.read_text().replace(str(dep), missing))
    r = _verify(vb, str(copy), vb.traces_a, vb.traces_b)
    assert r.returncode == 2, describe(r)
    err = r.stderr.decode()
    assert missing in err and "not found" in err and len(err.strip().splitlines()) == 1, describe(r)
