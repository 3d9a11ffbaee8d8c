"""Derivations: random `derivation {}` calls instantiated by nix-instantiate into a throwaway
chroot store; `vouch drv path|aterm|outputs|show` must agree with Nix byte for byte.

The chroot store (`--store <tmp>/store`) means input .drv files exist only next to the file
under test, so `vouch drv outputs` must find them in the file's own directory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from drvgen import make_spec
from interop_util import (STORE, assert_usage_error, describe, first_diff, rng_for, run,
                          text_path)

N_DRVS = int(os.environ.get("VOUCH_N_DRVS", "30"))
HERE = Path(__file__).parent


def _loads(b: bytes):
    # Nix writes env bytes raw (even invalid UTF-8) into its JSON.
    return json.loads(b.decode("utf-8", "surrogateescape"))


class DrvSet:
    def __init__(self, root: Path, spec: dict, paths: dict[str, str], show: dict):
        self.root, self.spec, self.paths, self.show = root, spec, paths, show
        self.ids = sorted(paths)

    def file(self, did: str) -> Path:
        return Path(str(self.root) + self.paths[did])


@pytest.fixture(scope="session")
def drvset(session_tmp) -> DrvSet:
    work = session_tmp / "drvs"
    work.mkdir()
    binary = work / "binary-value"
    binary.write_bytes(bytes(b for b in rng_for("binary").randbytes(64) if b) + b"\xff\x80\xc3")
    system = run(["nix-instantiate", "--eval", "--json", "-E", "builtins.currentSystem"]).stdout
    spec = make_spec(rng_for("drvs"), N_DRVS, str(binary), json.loads(system))
    (work / "spec.json").write_text(json.dumps(spec, indent=1))
    root = work / "chroot"
    r = run(["nix-instantiate", "--store", root, "--eval", "--strict", "--json",
             "--read-write-mode", HERE / "drvs.nix", "--arg", "specFile", work / "spec.json"])
    paths = json.loads(r.stdout)
    show = {}
    for p in paths.values():
        show.update(_loads(run(["nix", "show-derivation", "--store", root, p]).stdout))
    return DrvSet(root, spec, paths, show)


IDS = [f"d{i:02d}" for i in range(N_DRVS)]


def _drv_name(path: str) -> str:
    return os.path.basename(path)[33:-len(".drv")]


def _is_ia_or_fod(show_entry) -> bool:
    return all(o.get("path") for o in show_entry["outputs"].values())


@pytest.mark.parametrize("did", IDS)
def test_selfcheck_drv_store_path(drvset, did):
    """Nix-side sanity (no vouch): the .drv path is the text path of its ATerm bytes."""
    p = drvset.paths[did]
    sh = drvset.show[p]
    refs = list(sh["inputSrcs"]) + list(sh["inputDrvs"])
    assert text_path(drvset.file(did).read_bytes(), os.path.basename(p)[33:], refs) == p


@pytest.mark.parametrize("did", IDS)
def test_drv_path(vouch, drvset, did):
    r = vouch.ok("drv", "path", drvset.file(did))
    assert r.stdout.decode().strip() == drvset.paths[did], describe(r)


@pytest.mark.parametrize("did", IDS)
def test_drv_path_explicit_name(vouch, drvset, did, tmp_path):
    f = tmp_path / "some file.aterm"
    shutil.copyfile(drvset.file(did), f)
    # `--name=VALUE`: Nix names may start with "-", which `--name VALUE` can't carry
    r = vouch.ok("drv", "path", f, "--name=" + _drv_name(drvset.paths[did]))
    assert r.stdout.decode().strip() == drvset.paths[did], describe(r)


@pytest.mark.parametrize("did", IDS)
def test_drv_aterm_roundtrip(vouch, drvset, did):
    want = drvset.file(did).read_bytes()
    r = vouch.ok("drv", "aterm", drvset.file(did))
    assert r.stdout == want, "vouch drv aterm is not byte-identical: " + first_diff(r.stdout, want)


@pytest.mark.parametrize("did", IDS)
def test_drv_outputs(vouch, drvset, did):
    entry = drvset.show[drvset.paths[did]]
    r = vouch.ok("drv", "outputs", drvset.file(did))
    got = {}
    for line in r.stdout.decode().splitlines():
        name, _, path = line.partition(" ")
        got[name] = path
    if _is_ia_or_fod(entry):
        want = {k: v["path"] for k, v in entry["outputs"].items()}
    else:
        # Floating CA and deferred outputs have no path before the build: vouch names the kind instead.
        label = "<content-addressed>" if any(v.get("hashAlgo") for v in entry["outputs"].values()) else "<deferred>"
        want = {k: label for k in entry["outputs"]}
    assert got == want, describe(r)


@pytest.mark.parametrize("did", IDS)
def test_drv_show(vouch, drvset, did):
    p = drvset.paths[did]
    r = vouch.ok("drv", "show", drvset.file(did))
    got = _loads(r.stdout)
    assert got == {p: drvset.show[p]}, (
        "vouch drv show != nix show-derivation\n--- vouch ---\n"
        + json.dumps(got, indent=1, ensure_ascii=False)[:4000]
        + "\n--- nix ---\n" + json.dumps({p: drvset.show[p]}, indent=1, ensure_ascii=False)[:4000])


def test_drv_path_many_files(vouch, drvset):
    r = vouch.ok("drv", "path", *[drvset.file(d) for d in IDS])
    assert r.stdout.decode().splitlines() == [drvset.paths[d] for d in IDS], describe(r)


def test_drv_show_many_files(vouch, drvset):
    r = vouch.ok("drv", "show", *[drvset.file(d) for d in IDS])
    assert _loads(r.stdout) == drvset.show


def test_drv_files_not_in_system_store(drvset):
    """Premise of the outputs tests: the chroot drvs are not also in /nix/store."""
    assert not any(os.path.exists(p) for p in drvset.paths.values())


# --------------------------------------------------------------------------- malformed input

def _first(drvset, pred):
    for d in IDS:
        if pred(drvset.file(d).read_bytes()):
            return drvset.file(d).read_bytes()
    return drvset.file(IDS[0]).read_bytes()


BAD_ATERM = {
    "empty": lambda good: b"",
    "truncated": lambda good: good[: len(good) // 2],
    # (Nix 2.8 ignores bytes after the closing parenthesis, so those are not tested here.)
    "wrong-constructor": lambda good: b"Derivation" + good[len(b"Derive"):],
    "unterminated-string": lambda good: good[: good.index(b'"/bin/sh"') + 4],
    "relative-path": lambda good: good.replace(b'[("out","/nix/store/', b'[("out","nix/store/', 1)
    if b'[("out","/nix/store/' in good else b'Derive([("out","x","","")],[],[],"s","b",[],[])',
    "not-aterm": lambda good: b"hello world",
}


@pytest.mark.parametrize("case", sorted(BAD_ATERM))
@pytest.mark.parametrize("cmd", ["path", "aterm", "show"])
def test_drv_rejects_malformed(vouch, drvset, tmp_path, case, cmd):
    good = _first(drvset, lambda b: b.startswith(b'Derive([("out","/nix/store/'))
    f = tmp_path / "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bad.drv"
    f.write_bytes(BAD_ATERM[case](good))
    assert_usage_error(vouch("drv", cmd, f))


def test_drv_missing_file(vouch, tmp_path):
    assert_usage_error(vouch("drv", "path", tmp_path / "0000000000000000000000000000000a-x.drv"))


def test_drv_store_dir_is_logical(drvset):
    assert all(p.startswith(STORE + "/") for p in drvset.paths.values())
