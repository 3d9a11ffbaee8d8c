"""narinfo signatures and keys: `vouch key generate`, `vouch narinfo sign|verify|fingerprint`
against `nix-store --generate-binary-cache-key`, `nix store sign`, `nix copy` (file:// caches)
and `nix store verify`.

Signature acceptance by Nix is only meaningful for paths that are NOT content-addressed
(Nix admits self-verifying CA paths without any signature), so the "Nix accepts/refuses"
tests use input-addressed build outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from interop_util import (NarInfo, assert_usage_error, describe, ed25519_sign, ed25519_verify,
                          have_cryptography, nix_config, read_key, rng_for, run)

# label -> is input-addressed (signature required by Nix)
LABELS = {
    "built-dep": True,       # no references
    "built-user": True,      # references built-dep
    "built-self": True,      # references itself and built-dep
    "built-multi": True,     # output `out` of a two-output drv
    "built-multi-dev": True,  # output `dev`, references `out`
    "built-empty": True,     # empty file
    "added-file": False,     # nix-store --add (CA source path)
    "added-tree": False,
    "text-a": False,         # builtins.toFile (CA text path)
    "text-b": False,         # toFile referencing text-a
}
IA_LABELS = [k for k, v in LABELS.items() if v]

BUILD_NIX = r"""
{ token }:
let mk = a: derivation ({ system = builtins.currentSystem; builder = "/bin/sh"; } // a);
in rec {
  dep = mk { name = "dep-${token}"; args = [ "-c" "echo dep ${token} > $out" ]; };
  user = mk { name = "user"; args = [ "-c" "echo uses ${dep} > $out" ]; };
  self = mk { name = "self"; args = [ "-c" "echo \"me $out and ${dep}\" > $out" ]; };
  multi = mk { name = "multi-${token}"; outputs = [ "out" "dev" ];
               args = [ "-c" "echo lib > $out; echo \"headers for $out\" > $dev" ]; };
  empty = mk { name = "empty-${token}"; args = [ "-c" "> $out" ]; };
  texts = let a = builtins.toFile "text-a-${token}" "aaa ${token}";
          in [ a (builtins.toFile "text-b" "b refers to ${a}\n") ];
}
"""


class Caches:
    def __init__(self, work: Path):
        self.work = work
        self.paths: dict[str, str] = {}
        self.unsigned = work / "c0"     # compression=none, no signatures
        self.nix_signed = work / "c1"   # compression=none, signed by nix (nix_sk)
        self.nix_signed_xz = work / "c2"  # default xz
        self.nix_sk, self.nix_pk = work / "nix.sk", work / "nix.pk"
        self.other_sk, self.other_pk = work / "other.sk", work / "other.pk"  # same key name!

    def narinfo(self, cache: Path, label: str) -> Path:
        return cache / (self.paths[label].split("/")[-1][:32] + ".narinfo")

    def pk(self, f: Path) -> str:
        return f.read_text().strip()


@pytest.fixture(scope="session")
def caches(session_tmp) -> Caches:
    work = session_tmp / "narinfo"
    work.mkdir()
    c = Caches(work)
    rng = rng_for("narinfo")
    token = rng.randbytes(6).hex()
    (work / "build.nix").write_text(BUILD_NIX)
    r = run(["nix", "build", "--no-link", "--json", "-f", work / "build.nix",
             "--argstr", "token", token, "dep", "user", "self", "multi", "multi.dev", "empty"])
    built: dict[str, dict] = {}
    for b in json.loads(r.stdout):
        built.setdefault(b["drvPath"].split("-", 1)[1].split("-")[0].removesuffix(".drv"),
                         {}).update(b["outputs"])
    c.paths.update({"built-dep": built["dep"]["out"], "built-user": built["user"]["out"],
                    "built-self": built["self"]["out"], "built-multi": built["multi"]["out"],
                    "built-multi-dev": built["multi"]["dev"], "built-empty": built["empty"]["out"]})
    texts = json.loads(run(["nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode",
                            work / "build.nix", "--argstr", "token", token, "-A", "texts"]).stdout)
    c.paths["text-a"], c.paths["text-b"] = texts
    f = work / f"added-file-{token}"
    f.write_bytes(rng.randbytes(1000))
    f.chmod(0o755)
    c.paths["added-file"] = run(["nix-store", "--add", f]).stdout.decode().strip()
    t = work / f"added-tree-{token}"
    t.mkdir()
    (t / "a").write_text("a")
    (t / "l").symlink_to("a")
    c.paths["added-tree"] = run(["nix-store", "--add", t]).stdout.decode().strip()

    all_paths = list(c.paths.values())
    run(["nix", "copy", "--to", f"file://{c.unsigned}?compression=none", *all_paths])
    key_name = f"nix-made-{token}"
    run(["nix-store", "--generate-binary-cache-key", key_name, c.nix_sk, c.nix_pk])
    run(["nix-store", "--generate-binary-cache-key", key_name, c.other_sk, c.other_pk])
    run(["nix", "store", "sign", "--key-file", c.nix_sk, *all_paths])
    run(["nix", "copy", "--to", f"file://{c.nix_signed}?compression=none", *all_paths])
    run(["nix", "copy", "--to", f"file://{c.nix_signed_xz}", *all_paths])
    return c


@pytest.fixture(scope="session")
def vouch_key(vouch, session_tmp):
    d = session_tmp / "vouch-key"
    d.mkdir()
    name = f"vouch-made-{rng_for('vkey').randbytes(4).hex()}"
    vouch.ok("key", "generate", name, "--secret-key-file", d / "sk", "--public-key-file", d / "pk")
    return name, d / "sk", d / "pk"


def fresh_store(tmp_path: Path, name="store") -> Path:
    p = tmp_path / name
    assert not p.exists()
    return p


def nix_copy_from(cache: Path, store: Path, trusted_pk: str, *paths, check=False):
    return run(["nix", "copy", "--from", f"file://{cache}", "--store", store, *paths],
               env=nix_config(f"trusted-public-keys = {trusted_pk}"), check=check)


# --------------------------------------------------------------------------- Nix-made signatures

@pytest.mark.parametrize("label", list(LABELS))
def test_selfcheck_nix_signature_over_fingerprint(caches, label):
    """Nix side (no vouch): the reference fingerprint is what Nix signed."""
    if not have_cryptography():
        pytest.skip("python cryptography not installed")
    ni = NarInfo.parse(caches.narinfo(caches.nix_signed, label).read_text())
    _, pub = read_key(caches.nix_pk)
    sigs = [s for s in ni.get_all("Sig") if s.startswith(read_key(caches.nix_pk)[0] + ":")]
    assert len(sigs) == 1
    import base64
    assert ed25519_verify(pub, base64.b64decode(sigs[0].split(":", 1)[1]), ni.fingerprint().encode())


@pytest.mark.parametrize("label", list(LABELS))
def test_narinfo_fingerprint(vouch, caches, label):
    f = caches.narinfo(caches.nix_signed, label)
    r = vouch.ok("narinfo", "fingerprint", f)
    assert r.stdout.decode().rstrip("\n") == NarInfo.parse(f.read_text()).fingerprint(), describe(r)


@pytest.mark.parametrize("label", list(LABELS))
@pytest.mark.parametrize("cache", ["none", "xz"])
def test_verify_nix_signature(vouch, caches, label, cache):
    c = caches.nix_signed if cache == "none" else caches.nix_signed_xz
    r = vouch("narinfo", "verify", "--trusted-key", caches.pk(caches.nix_pk), caches.narinfo(c, label))
    assert r.returncode == 0, describe(r)


@pytest.mark.parametrize("label", list(LABELS))
def test_verify_nix_signature_wrong_key(vouch, caches, label):
    f = caches.narinfo(caches.nix_signed, label)
    # same key name, different key
    r = vouch("narinfo", "verify", "--trusted-key", caches.pk(caches.other_pk), f)
    assert r.returncode == 1, describe(r)
    # right key bytes under a different name
    renamed = "someone-else:" + caches.pk(caches.nix_pk).split(":", 1)[1]
    r = vouch("narinfo", "verify", "--trusted-key", renamed, f)
    assert r.returncode == 1, describe(r)


def test_verify_one_of_several_trusted_keys(vouch, caches):
    f = caches.narinfo(caches.nix_signed, "built-user")
    r = vouch("narinfo", "verify", "--trusted-key", caches.pk(caches.other_pk),
              "--trusted-key", caches.pk(caches.nix_pk), f)
    assert r.returncode == 0, describe(r)


@pytest.mark.parametrize("label", ["built-user", "text-a"])
def test_verify_unsigned_narinfo_fails(vouch, caches, label):
    r = vouch("narinfo", "verify", "--trusted-key", caches.pk(caches.nix_pk),
              caches.narinfo(caches.unsigned, label))
    assert r.returncode == 1, describe(r)


# --------------------------------------------------------------------------- vouch keys in Nix

def test_vouch_key_files(vouch_key):
    name, sk, pk = vouch_key
    sk_name, sk_bytes = read_key(sk)
    pk_name, pk_bytes = read_key(pk)
    assert sk_name == pk_name == name
    assert len(sk_bytes) == 64 and len(pk_bytes) == 32
    assert sk_bytes[32:] == pk_bytes, "secret key must be seed || public key (libsodium layout)"
    if have_cryptography():
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        derived = Ed25519PrivateKey.from_private_bytes(sk_bytes[:32]).public_key()
        assert derived.public_bytes(Encoding.Raw, PublicFormat.Raw) == pk_bytes


def test_nix_signs_and_verifies_with_vouch_key(vouch, vouch_key, caches, tmp_path):
    """`nix store sign` accepts a vouch secret key; `nix store verify` and vouch accept the result."""
    _, sk, pk = vouch_key
    p = caches.paths["built-self"]
    run(["nix", "store", "sign", "--key-file", sk, p])
    ok = run(["nix", "store", "verify", "--no-contents", "--sigs-needed", "1", p],
             env=nix_config(f"trusted-public-keys = {pk.read_text().strip()}"), check=False)
    assert ok.returncode == 0, describe(ok)
    bad = run(["nix", "store", "verify", "--no-contents", "--sigs-needed", "1", p],
              env=nix_config(f"trusted-public-keys = {caches.pk(caches.other_pk)}"), check=False)
    assert bad.returncode != 0, "premise: verification with an unrelated key must fail\n" + describe(bad)
    cache = tmp_path / "cache"
    run(["nix", "copy", "--to", f"file://{cache}?compression=none", p])
    f = cache / (p.split("/")[-1][:32] + ".narinfo")
    r = vouch("narinfo", "verify", "--trusted-key", pk.read_text().strip(), f)
    assert r.returncode == 0, describe(r)


def test_nix_builds_sign_with_vouch_key(vouch, vouch_key, tmp_path):
    """`secret-key-files = <vouch secret key>` works for Nix at build time."""
    _, sk, pk = vouch_key
    token = rng_for("build-sign").randbytes(6).hex()
    r = run(["nix", "build", "--impure", "--no-link", "--json", "--expr",
             f'derivation {{ name = "signed-at-build-{token}"; system = builtins.currentSystem; '
             f'builder = "/bin/sh"; args = [ "-c" "echo {token} > $out" ]; }}'],
            env=nix_config(f"secret-key-files = {sk}"))
    out = json.loads(r.stdout)[0]["outputs"]["out"]
    info = json.loads(run(["nix", "path-info", "--json", out]).stdout)[0]
    assert any(s.startswith(read_key(pk)[0] + ":") for s in info.get("signatures", [])), info
    cache = tmp_path / "cache"
    run(["nix", "copy", "--to", f"file://{cache}?compression=none", out])
    r = vouch("narinfo", "verify", "--trusted-key", pk.read_text().strip(),
              cache / (out.split("/")[-1][:32] + ".narinfo"))
    assert r.returncode == 0, describe(r)


# --------------------------------------------------------------------------- vouch-made signatures

@pytest.fixture(scope="session")
def vouch_signed(vouch, vouch_key, caches, session_tmp):
    """Copy of the unsigned cache where vouch signed every narinfo."""
    _, sk, _ = vouch_key
    dst = session_tmp / "c-vouch"
    shutil.copytree(caches.unsigned, dst)
    out = {}
    for label in LABELS:
        f = caches.narinfo(dst, label)
        r = vouch("narinfo", "sign", "--key-file", sk, f)
        out[label] = r
        if r.returncode == 0:
            f.write_bytes(r.stdout)
    return dst, out


@pytest.mark.parametrize("label", list(LABELS))
def test_vouch_sign(caches, vouch_key, vouch_signed, label):
    name, sk, pk = vouch_key
    _, results = vouch_signed
    r = results[label]
    assert r.returncode == 0, describe(r)
    before = NarInfo.parse(caches.narinfo(caches.unsigned, label).read_text())
    after = NarInfo.parse(r.stdout.decode())
    assert [kv for kv in after.lines if kv[0] != "Sig"] == [kv for kv in before.lines if kv[0] != "Sig"], \
        "fields other than Sig must be preserved in order"
    sigs = after.get_all("Sig")
    assert len(sigs) == 1 and sigs[0].startswith(name + ":"), sigs
    if have_cryptography():
        import base64
        _, secret = read_key(sk)
        want = name + ":" + base64.b64encode(ed25519_sign(secret, before.fingerprint().encode())).decode()
        assert sigs[0] == want, "Ed25519 is deterministic: signature must equal the reference one"


def test_vouch_sign_appends_to_nix_signature(vouch, caches, vouch_key):
    name, sk, pk = vouch_key
    f = caches.narinfo(caches.nix_signed, "built-user")
    r = vouch.ok("narinfo", "sign", "--key-file", sk, f)
    before, after = NarInfo.parse(f.read_text()), NarInfo.parse(r.stdout.decode())
    old = before.get_all("Sig")
    new = after.get_all("Sig")
    assert len(new) == len(old) + 1 and all(s in new for s in old), new
    assert r.stdout.decode().startswith(f.read_text().split("Sig:")[0]), "fields before Sig changed"
    tmp = caches.work / "appended.narinfo"
    tmp.write_bytes(r.stdout)
    for key in (caches.pk(caches.nix_pk), pk.read_text().strip()):
        v = vouch("narinfo", "verify", "--trusted-key", key, tmp)
        assert v.returncode == 0, describe(v)


def test_nix_accepts_vouch_signed_cache(caches, vouch_key, vouch_signed, tmp_path):
    _, _, pk = vouch_key
    cache, _ = vouch_signed
    store = fresh_store(tmp_path)
    paths = [caches.paths[l] for l in IA_LABELS]
    r = nix_copy_from(cache, store, pk.read_text().strip(), *paths)
    assert r.returncode == 0, describe(r)
    infos = json.loads(run(["nix", "path-info", "--store", store, "--json", *paths]).stdout)
    assert all(any(s.startswith(vouch_key[0] + ":") for s in i.get("signatures", [])) for i in infos)


def test_nix_refuses_vouch_signed_cache_with_other_key(caches, vouch_signed, tmp_path):
    """Control: the same cache is refused when our key is not trusted."""
    cache, _ = vouch_signed
    r = nix_copy_from(cache, fresh_store(tmp_path), caches.pk(caches.other_pk), caches.paths["built-dep"])
    assert r.returncode != 0 and b"signature" in r.stderr, describe(r)


def _flip_sig(ni: NarInfo):
    s = ni.get("Sig")
    name, b64 = s.split(":", 1)
    i = 10
    ni.set("Sig", f"{name}:{b64[:i]}{'A' if b64[i] != 'A' else 'B'}{b64[i + 1:]}")


def _drop_refs(ni: NarInfo):
    ni.set("References", "")


@pytest.mark.parametrize("tamper", ["flip-sig", "drop-reference", "sig-by-other-key-same-name"])
def test_tampered_vouch_signature_refused(vouch, caches, vouch_key, vouch_signed, tmp_path, tamper):
    if tamper == "sig-by-other-key-same-name" and not have_cryptography():
        pytest.skip("python cryptography not installed")
    _, _, pk = vouch_key
    src, _ = vouch_signed
    cache = tmp_path / "cache"
    shutil.copytree(src, cache)
    label = "built-user"
    f = caches.narinfo(cache, label)
    ni = NarInfo.parse(f.read_text())
    if tamper == "sig-by-other-key-same-name":
        # rename the "other" key to our name: a forgery with the right name, wrong key
        name, secret = read_key(caches.other_sk)
        import base64
        sig = ed25519_sign(secret, ni.fingerprint().encode())
        ni.set("Sig", vouch_key[0] + ":" + base64.b64encode(sig).decode())
    else:
        {"flip-sig": _flip_sig, "drop-reference": _drop_refs}[tamper](ni)
    f.write_text(ni.render())
    v = vouch("narinfo", "verify", "--trusted-key", pk.read_text().strip(), f)
    assert v.returncode == 1, describe(v)
    r = nix_copy_from(cache, fresh_store(tmp_path), pk.read_text().strip(), caches.paths[label])
    assert r.returncode != 0 and b"signature" in r.stderr, "Nix should refuse:\n" + describe(r)


def test_unsigned_fields_not_covered(vouch, caches, vouch_key, vouch_signed, tmp_path):
    """Deriver/URL are not signed: both Nix and vouch still accept after changing Deriver."""
    _, _, pk = vouch_key
    src, _ = vouch_signed
    cache = tmp_path / "cache"
    shutil.copytree(src, cache)
    f = caches.narinfo(cache, "built-user")
    ni = NarInfo.parse(f.read_text())
    ni.set("Deriver", "00000000000000000000000000000000-forged.drv")
    f.write_text(ni.render())
    v = vouch("narinfo", "verify", "--trusted-key", pk.read_text().strip(), f)
    assert v.returncode == 0, describe(v)
    r = nix_copy_from(cache, fresh_store(tmp_path), pk.read_text().strip(), caches.paths["built-user"])
    assert r.returncode == 0, describe(r)


# --------------------------------------------------------------------------- bad input

def _without(text: str, key: str) -> str:
    return "".join(l + "\n" for l in text.split("\n") if l and not l.startswith(key + ":"))


@pytest.mark.parametrize("case", ["no-storepath", "no-narhash", "bad-narhash", "bad-narsize",
                                  "empty", "not-a-narinfo"])
def test_narinfo_bad_input(vouch, caches, tmp_path, case):
    text = caches.narinfo(caches.nix_signed, "built-user").read_text()
    bad = {
        "no-storepath": lambda: _without(text, "StorePath"),
        "no-narhash": lambda: _without(text, "NarHash"),
        "bad-narhash": lambda: text.replace("NarHash: sha256:", "NarHash: sha256:zz", 1),
        "bad-narsize": lambda: text.replace("NarSize: ", "NarSize: x", 1),
        "empty": lambda: "",
        "not-a-narinfo": lambda: "hello\nworld\n",
    }[case]()
    f = tmp_path / "bad.narinfo"
    f.write_text(bad)
    assert_usage_error(vouch("narinfo", "verify", "--trusted-key", caches.pk(caches.nix_pk), f))
    assert_usage_error(vouch("narinfo", "fingerprint", f))


@pytest.mark.parametrize("key", ["no-colon-here", ":AAAA", "name:", "name:!!!notbase64!!!",
                                 "name:AAAA"])
def test_narinfo_bad_trusted_key(vouch, caches, key):
    f = caches.narinfo(caches.nix_signed, "built-user")
    assert_usage_error(vouch("narinfo", "verify", "--trusted-key", key, f))


def test_narinfo_sign_bad_key_file(vouch, caches, tmp_path):
    k = tmp_path / "sk"
    k.write_text("name:AAAA")
    assert_usage_error(vouch("narinfo", "sign", "--key-file", k, caches.narinfo(caches.unsigned, "built-dep")))
    assert_usage_error(vouch("narinfo", "sign", "--key-file", tmp_path / "missing",
                             caches.narinfo(caches.unsigned, "built-dep")))


def test_lenient_narinfo_forms(vouch, caches, vouch_signed, vouch_key, tmp_path):
    """Forms Nix 2.8 accepts (NIX-FORMATS §7.8): SRI NarHash, Sig line first, unknown keys,
    an invalid signature before the valid one. vouch must verify it too."""
    _, _, pk = vouch_key
    src, _ = vouch_signed
    cache = tmp_path / "cache"
    shutil.copytree(src, cache)
    label = "built-user"
    f = caches.narinfo(cache, label)
    ni = NarInfo.parse(f.read_text())
    fp = ni.fingerprint()
    _, digest = __import__("interop_util").parse_hash(ni.get("NarHash"))
    import base64
    ni.set("NarHash", "sha256-" + base64.b64encode(digest).decode())
    sig = ni.get("Sig")
    name, b64 = sig.split(":", 1)
    broken = f"{name}:{b64[:5]}{'A' if b64[5] != 'A' else 'B'}{b64[6:]}"
    ni.lines = [("Sig", broken), ("Sig", sig)] + [kv for kv in ni.lines if kv[0] != "Sig"] + [("Foo", "bar")]
    f.write_text(ni.render())
    r = vouch("narinfo", "fingerprint", f)
    assert r.returncode == 0 and r.stdout.decode().rstrip("\n") == fp, describe(r)
    v = vouch("narinfo", "verify", "--trusted-key", pk.read_text().strip(), f)
    assert v.returncode == 0, describe(v)
    n = nix_copy_from(cache, fresh_store(tmp_path), pk.read_text().strip(), caches.paths[label])
    assert n.returncode == 0, "premise: Nix accepts these forms\n" + describe(n)
