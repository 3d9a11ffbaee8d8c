#!/usr/bin/env python3
"""Generate the golden vectors in Tests/NixFormatsTests/Vectors/nix/ with real Nix 2.8.

Run through scripts/gen-vectors.sh (which sets NIX_CONFIG). Everything except the key pair
is deterministic; the key pair is reused from the output directory when present, so a
re-run reproduces identical files (Ed25519 signatures are deterministic).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "interop"))
from interop_util import NarInfo, ed25519_verify, nar_of_path, nix32, read_key  # noqa: E402

OUT = Path(os.environ.get("VECTORS_OUT", REPO / "Tests" / "NixFormatsTests" / "Vectors" / "nix"))
KEY_NAME = "vouch-vectors-1"
ALGOS = ["md5", "sha1", "sha256", "sha512"]


def run(cmd, *, env=None, input=None) -> bytes:
    e = dict(os.environ)
    if env:
        e.update(env)
    r = subprocess.run([str(c) for c in cmd], capture_output=True, env=e, input=input)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr.decode()}")
    return r.stdout


def text(cmd, **kw) -> str:
    return run(cmd, **kw).decode().strip()


def dump_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def rel(p: Path) -> str:
    return str(p.relative_to(OUT))


# --------------------------------------------------------------------------- hashes

HASH_INPUTS = {
    "empty": b"",
    "hello-newline": b"hello\n",
    "abc": b"abc",
    "fox": b"The quick brown fox jumps over the lazy dog",
    "all-bytes": bytes(range(256)),
    "utf8": "é☃🎉\n".encode(),
}


def gen_hashes(tmp: Path) -> None:
    out = []
    for label, data in HASH_INPUTS.items():
        f = tmp / f"hash-{label}"
        f.write_bytes(data)
        entry = {"label": label, "inputBase64": base64.b64encode(data).decode(), "hashes": {}}
        for algo in ALGOS:
            h = {}
            for enc, flag in (("base16", "--base16"), ("nix32", "--base32"),
                              ("base64", "--base64"), ("sri", "--sri")):
                h[enc] = text(["nix", "hash", "file", "--type", algo, flag, f])
            entry["hashes"][algo] = h
        out.append(entry)
    # conversions between encodings, including uppercase base16 input
    conv = []
    for entry in out[:3]:
        for algo in ALGOS:
            b16 = entry["hashes"][algo]["base16"]
            conv.append({"algo": algo, "input": b16.upper(),
                         "nix32": text(["nix", "hash", "to-base32", "--type", algo, b16.upper()]),
                         "sri": text(["nix", "hash", "to-sri", "--type", algo, b16.upper()])})
    dump_json(OUT / "hashes.json", {"inputs": out, "conversions": conv})


# --------------------------------------------------------------------------- store paths

def gen_storepaths(tmp: Path) -> None:
    f = tmp / "hello.txt"
    f.write_bytes(b"hello\n")
    res = {"file": {"name": "hello.txt", "contentsBase64": base64.b64encode(b"hello\n").decode()},
           "source": text(["nix-store", "--add", f]), "fixed": {}}
    for algo in ALGOS:
        res["fixed"][algo] = {
            "flat": text(["nix-store", "--add-fixed", algo, f]),
            "recursive": text(["nix-store", "--add-fixed", "--recursive", algo, f]),
        }
    expr = ('let a = builtins.toFile "a.txt" "aaa"; c = builtins.toFile "c.txt" "ccc"; '
            'b = builtins.toFile "b.txt" "ref to ${a} and ${c}"; in [ a c b ]')
    a, c, b = json.loads(run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode",
                              "-E", expr]))
    res["text"] = [
        {"name": "a.txt", "contents": "aaa", "references": [], "path": a},
        {"name": "c.txt", "contents": "ccc", "references": [], "path": c},
        {"name": "b.txt", "contents": f"ref to {a} and {c}", "references": sorted([a, c]), "path": b},
    ]
    dump_json(OUT / "storepaths.json", res)


# --------------------------------------------------------------------------- NAR trees

def _write(p: Path, data: bytes, mode=0o644):
    p.write_bytes(data)
    p.chmod(mode)


def build_trees(base: Path) -> dict[str, Path]:
    t = {}
    t["t1"] = base / "t1"; _write(t["t1"], b"hello\n")
    t["t2"] = base / "t2"; _write(t["t2"], b"#!/bin/sh\necho hi\n", 0o755)
    t["t3"] = base / "t3"; t["t3"].symlink_to("/nix/store/xyz-target")
    d = t["t4"] = base / "t4"; d.mkdir()
    _write(d / "a.txt", b"hello\n"); (d / "bin").mkdir(); _write(d / "bin" / "run", b"#!/bin/sh\n", 0o755)
    (d / "link").symlink_to("a.txt"); (d / "sub" / "dir").mkdir(parents=True)
    _write(d / "sub" / "dir" / "deep", b"deep"); _write(d / "emptyfile", b"")
    _write(d / "eight", b"12345678"); (d / "empty").mkdir()
    d = t["t5"] = base / "t5"; d.mkdir()
    for n in ["B", "a", "a.b", "a-b", "Z", "_", "é", "10", "9"]:
        _write(d / n, n.encode())
    t["e1"] = base / "e1"; t["e1"].mkdir()
    t["e2"] = base / "e2"; _write(t["e2"], b"")
    d = t["symlinks"] = base / "symlinks"; d.mkdir()
    for n, target in [("rel", "../x"), ("abs", "/etc/passwd"), ("dangling", "does/not/exist"),
                      ("dot", "."), ("unicode", "ünï cødé"), ("to-dir", "sub")]:
        (d / n).symlink_to(target)
    (d / "sub").mkdir(); _write(d / "sub" / "f", b"f\n")
    d = t["modes"] = base / "modes"; d.mkdir()
    for mode in (0o644, 0o755, 0o700, 0o600, 0o645, 0o655, 0o744, 0o444, 0o555, 0o100):
        _write(d / f"m{mode:o}", f"{mode:o}".encode(), mode)
    d = t["names"] = base / "names"; d.mkdir()
    for n in ["a b", " lead", "trail ", "quote\"d", "back\\slash", "tab\there", "new\nline",
              "ctl\x01", "del\x7f", "e\u0301", "\u00e9", "日本語", "🎉", ".hidden", "...", "-dash",
              "A", "a", "a" * 255]:
        _write(d / n, n.encode())
    d = t["padding"] = base / "padding"; d.mkdir()
    for n in range(0, 18):
        _write(d / f"len{n:02d}", bytes(range(65, 65 + n)))
    d = t["deep"] = base / "deep"; p = d
    for i in range(30):
        p = p / "d"
    p.mkdir(parents=True); _write(p / "leaf", b"leaf\n", 0o755)
    d = t["binary"] = base / "binary"; d.mkdir()
    _write(d / "zeros", b"\0" * 1000); _write(d / "bytes", bytes(range(256)) * 3)
    _write(d / "nar-like", b"\x0d\0\0\0\0\0\0\0nix-archive-1\0\0\0")
    return t


def describe_tree(root: Path) -> list[dict]:
    entries = []

    def walk(p: Path, relp: bytes):
        st = os.lstat(p)
        e = {"path": relp.decode("utf-8", "surrogateescape"), "pathBase64": base64.b64encode(relp).decode()}
        if os.path.islink(p):
            tgt = os.readlink(os.fsencode(p))
            e.update(type="symlink", target=tgt.decode("utf-8", "surrogateescape"),
                     targetBase64=base64.b64encode(tgt).decode())
        elif p.is_file():
            e.update(type="regular", executable=bool(st.st_mode & 0o100), mode=oct(st.st_mode & 0o777),
                     contentsBase64=base64.b64encode(p.read_bytes()).decode())
        else:
            e.update(type="directory")
        entries.append(e)
        if e["type"] == "directory":
            for name in sorted(os.listdir(os.fsencode(p))):
                walk(Path(os.fsdecode(os.path.join(os.fsencode(p), name))),
                     (relp + b"/" if relp else b"") + name)

    walk(root, b"")
    return entries


def gen_trees(tmp: Path) -> None:
    base = tmp / "trees"
    base.mkdir()
    trees = build_trees(base)
    out = []
    for label, root in trees.items():
        nar = run(["nix-store", "--dump", root])
        assert nar == nar_of_path(root), label
        e = {"label": label, "entries": describe_tree(root),
             "narHash": {"sri": text(["nix", "hash", "path", root]),
                         "nix32": "sha256:" + text(["nix", "hash", "path", "--base32", root]),
                         "base16": text(["nix", "hash", "path", "--base16", root])},
             "narSize": len(nar),
             "storePathAdded": text(["nix-store", "--add", root])}
        if len(nar) <= 4096 or label in ("t4", "names", "symlinks"):
            e["narBase64"] = base64.b64encode(nar).decode()
        out.append(e)
    dump_json(OUT / "nar" / "trees.json", out)


# --------------------------------------------------------------------------- derivations

def fod_hashes(tmp: Path) -> dict:
    f = tmp / "fixed"
    f.write_bytes(b"fixed\n")
    nar = nar_of_path(f)
    h = {}
    for algo in ALGOS:
        h[algo] = {}
        for mode, data in (("flat", b"fixed\n"), ("recursive", nar)):
            d = hashlib.new(algo, data).digest()
            h[algo][mode] = {"base16": d.hex(), "nix32": nix32(d), "base64": base64.b64encode(d).decode(),
                             "sri": f"{algo}-{base64.b64encode(d).decode()}"}
    return h


EXTRA_OUTPUTS = ["multi.dev", "multi.lib", "placeholders.bin", "caM.dev", "caMixed.doc", "iaDeep.bin"]
NOT_BUILT = ["structured"]  # __structuredAttrs needs bash to read .attrs.sh; instantiated only
RESOLVED_ATTRS = ["caB", "caU", "caFlatSha512", "iaOnCa", "caMixed", "iaDeep"]


def kind_of(show: dict) -> str:
    outs = list(show["outputs"].values())
    if all(o.get("path") and o.get("hash") for o in outs):
        return "fixed"
    if all(o.get("path") for o in outs):
        return "inputAddressed"
    if all(o.get("hashAlgo") and not o.get("path") for o in outs):
        return "floating"
    if all(not o.get("path") and not o.get("hashAlgo") for o in outs):
        return "deferred"
    return "mixed?"


def show(drv: str) -> dict:
    return json.loads(run(["nix", "show-derivation", drv]).decode("utf-8", "surrogateescape"))[drv]


def realisations_by_path() -> dict[str, list[dict]]:
    db = sqlite3.connect("file:/nix/var/nix/db/db.sqlite?mode=ro", uri=True)
    res: dict[str, list[dict]] = {}
    for drv_hash, out_name, path, sigs in db.execute(
            "select r.drvPath, r.outputName, v.path, r.signatures from Realisations r "
            "join ValidPaths v on v.id = r.outputPath"):
        res.setdefault(path, []).append({"id": f"{drv_hash}!{out_name}", "signatures": sigs})
    return res


def gen_drvs(tmp: Path, sk: Path) -> dict:
    hfile = tmp / "h.json"
    hfile.write_text(json.dumps(fod_hashes(tmp)))
    harg = f"builtins.fromJSON (builtins.readFile {hfile})"
    vnix = HERE / "vectors.nix"
    expr = f"builtins.mapAttrs (_: d: d.drvPath) (import {vnix} {{ h = {harg}; }})"
    drvs = json.loads(run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E", expr]))
    attrs = sorted(drvs)
    built_json = json.loads(run(["nix", "build", "--no-link", "--json", "-f", vnix, "--arg", "h", harg,
                                 *[a for a in attrs if a not in NOT_BUILT], *EXTRA_OUTPUTS], env={"NIX_CONFIG": os.environ["NIX_CONFIG"]
                                                              + f"\nsecret-key-files = {sk}"}))
    built: dict[str, dict[str, str]] = {}
    for b in built_json:
        built.setdefault(b["drvPath"], {}).update(b["outputs"])
    all_outputs = sorted({p for o in built.values() for p in o.values()})
    run(["nix", "store", "sign", "--key-file", sk, *all_outputs])
    infos = {i["path"]: i for i in json.loads(run(["nix", "path-info", "--json", *all_outputs]))}
    rbp = realisations_by_path()

    ddir = OUT / "drv"
    ddir.mkdir(parents=True)
    entries = []
    unresolved_ids: dict[str, str] = {}

    def add_file(drv: str) -> str:
        dst = ddir / os.path.basename(drv)
        if not dst.exists():
            shutil.copyfile(drv, dst)
            dst.chmod(0o644)
        return rel(dst)

    for attr in attrs:
        drv = drvs[attr]
        s = show(drv)
        e = {"attr": attr, "file": add_file(drv), "path": drv, "name": os.path.basename(drv)[33:-4],
             "kind": kind_of(s), "outputs": {k: (v.get("path") or None) for k, v in s["outputs"].items()},
             "show": s, "built": built.get(drv, {})}
        derivers = {infos[p].get("deriver") for p in e["built"].values()}
        if attr in RESOLVED_ATTRS:
            assert len(derivers) == 1, (
                f"{attr}: outputs have different derivers {derivers}. A CA output with the same "
                "content was built earlier from another drv and Nix kept that first deriver; bump "
                "`tag` in scripts/vectors/vectors.nix and re-run.")
            resolved = derivers.pop()
            assert resolved != drv
            inputs = {}
            for idrv, outs in sorted(s["inputDrvs"].items()):
                for o in outs:
                    inputs[f"{idrv}!{o}"] = built[idrv][o]
            rs = show(resolved)
            e["resolution"] = {"inputs": inputs, "resolvedPath": resolved, "resolvedFile": add_file(resolved),
                               "resolvedShow": rs, "resolvedKind": kind_of(rs)}
        entries.append(e)

    # realisation ids (DrvOutput ids = sha256:<masked hashDerivationModulo>!<out>), from the
    # uploaded .doi files (unresolved drvs) and the store database (everything built).
    cache = tmp / "cache-ca"
    ca_attrs = [e["attr"] for e in entries if e["kind"] in ("floating", "deferred")]
    run(["nix", "copy", "--to", f"file://{cache}", "-f", vnix, "--arg", "h", harg, *ca_attrs,
         "caM.dev", "caMixed.doc", "iaDeep.bin"])
    for doi in (cache / "realisations").glob("*.doi"):
        j = json.loads(doi.read_text())
        unresolved_ids[j["id"]] = j["outPath"]
    for e in entries:
        ids = {}
        resolved_ids = {}
        for out, path in e["built"].items():
            cands = [r["id"] for r in rbp.get(path, []) if r["id"].endswith("!" + out)]
            if e["kind"] in ("inputAddressed", "fixed"):
                mine = cands if len(cands) == 1 else None
                if mine:
                    ids[out] = mine[0]
            else:
                unres = [c for c in cands if c in unresolved_ids]
                if len(unres) == 1:
                    ids[out] = unres[0]
                if "resolution" in e:
                    rest = [c for c in cands if c not in unresolved_ids]
                    if len(rest) == 1:
                        resolved_ids[out] = rest[0]
        if ids:
            e["realisationIds"] = ids
        if resolved_ids:
            e["resolution"]["resolvedRealisationIds"] = resolved_ids
    dump_json(OUT / "drvs.json", entries)
    return {"entries": entries, "built": built, "cache_ca": cache, "vnix": vnix, "harg": harg}


# --------------------------------------------------------------------------- narinfo, realisations

def valid_for(sigs: list[str], fingerprint: str, pk: Path) -> list[str]:
    """Key names whose signature over `fingerprint` verifies (checked with Python cryptography)."""
    name, pub = read_key(pk)
    ok = []
    for s in sigs:
        n, b64 = s.split(":", 1)
        if n == name and ed25519_verify(pub, base64.b64decode(b64), fingerprint.encode()):
            ok.append(n)
    return ok


def gen_narinfos(tmp: Path, d: dict, sk: Path, pk: Path) -> None:
    ndir = OUT / "narinfo"
    ndir.mkdir(parents=True)
    by_attr = {e["attr"]: e for e in d["entries"]}
    pick = {  # label -> store path
        "ia-no-refs": by_attr["simple"]["built"]["out"],
        "ia-with-refs": by_attr["consumer"]["built"]["out"],
        "ia-multi-dev": by_attr["multi"]["built"]["dev"],
        "ia-multi-lib-self-ref": by_attr["multi"]["built"]["lib"],
        "fod-flat": by_attr["fod-sha256-flat-sri"]["built"]["out"],
        "fod-rec-sha1": by_attr["fod-sha1-rec-nix32"]["built"]["out"],
    }
    cache = tmp / "cache-none"
    run(["nix", "copy", "--to", f"file://{cache}?compression=none", *pick.values()])
    files = []

    def add(label, src: Path, origin: str):
        dst = ndir / f"{label}.narinfo"
        shutil.copyfile(src, dst)
        ni = NarInfo.parse(dst.read_text())
        files.append({"label": label, "file": rel(dst), "origin": origin,
                      "storePath": ni.get("StorePath"), "fingerprint": ni.fingerprint(),
                      "signatures": ni.get_all("Sig"),
                      "validFor": valid_for(ni.get_all("Sig"), ni.fingerprint(), pk)})

    for label, p in pick.items():
        add(label, cache / (os.path.basename(p)[:32] + ".narinfo"), "nix copy --to file://…?compression=none")
    ca_cache = d["cache_ca"]
    for e in d["entries"]:
        if e["attr"] in ("caA", "caB", "iaDeep"):
            for out, p in e["built"].items():
                add(f"{e['attr']}-{out}-xz", ca_cache / (os.path.basename(p)[:32] + ".narinfo"),
                    "nix copy --to file://… (xz), signed at build time via secret-key-files")
    # text-CA narinfo of a .drv file (no Deriver, no Sig)
    dcache = tmp / "cache-drv"
    run(["nix", "copy", "--derivation", "--to", f"file://{dcache}?compression=none", by_attr["caB"]["path"]])
    add("drv-text-ca", dcache / (os.path.basename(by_attr["caB"]["path"])[:32] + ".narinfo"),
        "nix copy --derivation --to file://…?compression=none")
    # NARs of the uncompressed IA narinfos (so FileHash/NarHash can be checked)
    for f in files[:len(pick)]:
        ni = NarInfo.parse((OUT / f["file"]).read_text())
        nar = (cache / ni.get("URL")).read_bytes()
        f["narBase64"] = base64.b64encode(nar).decode()
    dump_json(OUT / "narinfo" / "narinfos.json", {
        "keyName": KEY_NAME, "secretKeyFile": "keys/vectors.sk", "publicKeyFile": "keys/vectors.pk",
        "narinfos": files})

    rdir = OUT / "realisations"
    rdir.mkdir(parents=True)
    rs = []
    for doi in sorted((ca_cache / "realisations").glob("*.doi")):
        j = json.loads(doi.read_text())
        name = j["id"].replace("sha256:", "").replace("!", "_") + ".doi"
        shutil.copyfile(doi, rdir / name)
        unsigned = {k: v for k, v in j.items() if k != "signatures"}
        fp = json.dumps(unsigned, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        rs.append({"file": rel(rdir / name), "originalName": doi.name, "id": j["id"],
                   "fingerprint": fp, "validFor": valid_for(j["signatures"], fp, pk)})
    dump_json(rdir / "realisations.json", rs)


# --------------------------------------------------------------------------- main

def main() -> None:
    version = text(["nix", "--version"])
    keys_dir = OUT / "keys"
    saved_keys = {}
    if (keys_dir / "vectors.sk").exists() and (keys_dir / "vectors.pk").exists():
        saved_keys = {n: (keys_dir / n).read_bytes() for n in ("vectors.sk", "vectors.pk")}
    for sub in ("drv", "nar", "narinfo", "realisations", "keys"):
        shutil.rmtree(OUT / sub, ignore_errors=True)
    for f in ("drvs.json", "hashes.json", "storepaths.json"):
        (OUT / f).unlink(missing_ok=True)
    keys_dir.mkdir(parents=True)
    sk, pk = keys_dir / "vectors.sk", keys_dir / "vectors.pk"
    if saved_keys:
        for n, b in saved_keys.items():
            (keys_dir / n).write_bytes(b)
    else:
        run(["nix-store", "--generate-binary-cache-key", KEY_NAME, sk, pk])
    assert read_key(sk)[0] == KEY_NAME

    with tempfile.TemporaryDirectory(prefix="vouch-vectors-") as t:
        tmp = Path(t)
        gen_hashes(tmp)
        gen_storepaths(tmp)
        gen_trees(tmp)
        d = gen_drvs(tmp, sk)
        gen_narinfos(tmp, d, sk, pk)
    dump_json(OUT / "meta.json", {"nixVersion": version, "system": text(
        ["nix-instantiate", "--eval", "--json", "-E", "builtins.currentSystem"]).strip('"'),
        "generator": "scripts/gen-vectors.sh"})
    print(f"vectors written to {OUT}")


if __name__ == "__main__":
    main()
