"""NAR: `vouch nar dump|hash|restore` against `nix-store --dump`, `nix hash path`,
`nix-store --restore`, on random file trees (fresh every run, see VOUCH_SEED)."""

from __future__ import annotations

import functools
import os

import pytest

from interop_util import (assert_usage_error, describe, first_diff, nar_of_path, nar_tokens,
                          rng_for, run)
from trees import make_non_utf8_tree, make_tree

N_TREES = int(os.environ.get("VOUCH_N_TREES", "40"))


@pytest.fixture(scope="session")
def trees(session_tmp):
    base = session_tmp / "trees"
    base.mkdir()
    return [make_tree(rng_for("tree", i), base / f"t{i}", i) for i in range(N_TREES)]


@functools.lru_cache(maxsize=None)
def nix_dump(path) -> bytes:
    return run(["nix-store", "--dump", path]).stdout


@functools.lru_cache(maxsize=None)
def nix_hash(path, *flags) -> str:
    return run(["nix", "hash", "path", *flags, path]).stdout.decode().strip()


IDS = list(range(N_TREES))


@pytest.mark.parametrize("i", IDS)
def test_selfcheck_reference_nar_writer(trees, i):
    """Nix-side sanity: the tree generator produces what we think (no vouch involved)."""
    assert nar_of_path(trees[i]) == nix_dump(trees[i])


@pytest.mark.parametrize("i", IDS)
def test_nar_dump_identical(vouch, trees, i):
    r = vouch.ok("nar", "dump", trees[i])
    want = nix_dump(trees[i])
    assert r.stdout == want, f"vouch nar dump {trees[i]} != nix-store --dump: " + first_diff(r.stdout, want)


@pytest.mark.parametrize("i", IDS)
def test_nar_hash_nix32(vouch, trees, i):
    r = vouch.ok("nar", "hash", trees[i])
    assert r.stdout.decode().strip() == "sha256:" + nix_hash(trees[i], "--base32"), describe(r)


@pytest.mark.parametrize("i", IDS)
def test_nar_hash_sri(vouch, trees, i):
    r = vouch.ok("nar", "hash", "--sri", trees[i])
    assert r.stdout.decode().strip() == nix_hash(trees[i]), describe(r)


@pytest.mark.parametrize("i", IDS)
def test_nar_restore_roundtrip(vouch, trees, tmp_path, i):
    nar = nix_dump(trees[i])
    dest = tmp_path / "restored"
    vouch.ok("nar", "restore", dest, input=nar)
    again = nix_dump(dest)
    assert again == nar, "nix-store --dump of vouch-restored tree differs: " + first_diff(again, nar)


# --------------------------------------------------------------------------- non-UTF-8 names

@pytest.fixture(scope="session")
def non_utf8_tree(session_tmp):
    return make_non_utf8_tree(session_tmp / "non-utf8")


def test_nar_non_utf8_names_dump(vouch, non_utf8_tree):
    r = vouch.ok("nar", "dump", non_utf8_tree)
    want = nix_dump(non_utf8_tree)
    assert r.stdout == want, first_diff(r.stdout, want)
    r = vouch.ok("nar", "hash", "--sri", non_utf8_tree)
    assert r.stdout.decode().strip() == nix_hash(non_utf8_tree)


def test_nar_non_utf8_names_restore(vouch, non_utf8_tree, tmp_path):
    nar = nix_dump(non_utf8_tree)
    vouch.ok("nar", "restore", tmp_path / "r", input=nar)
    assert nix_dump(tmp_path / "r") == nar


# --------------------------------------------------------------------------- errors

def test_nar_restore_dest_exists(vouch, tmp_path):
    (tmp_path / "f").write_text("x")
    nar = nix_dump(tmp_path / "f")
    (tmp_path / "dest").mkdir()
    assert_usage_error(vouch("nar", "restore", tmp_path / "dest", input=nar))


def test_nar_hash_missing_path(vouch, tmp_path):
    assert_usage_error(vouch("nar", "hash", tmp_path / "does-not-exist"))
    assert_usage_error(vouch("nar", "dump", tmp_path / "does-not-exist"))


def test_nar_dump_rejects_special_files(vouch, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    os.mkfifo(d / "fifo")
    nix = run(["nix-store", "--dump", d], check=False)
    assert nix.returncode != 0, "premise: Nix refuses to dump a FIFO"
    assert_usage_error(vouch("nar", "dump", d))
    assert_usage_error(vouch("nar", "hash", d))


def _file(contents=b"x", exe=False):
    t = [b"(", b"type", b"regular"] + ([b"executable", b""] if exe else []) + [b"contents", contents, b")"]
    return t


def _dir(*entries):
    t = [b"(", b"type", b"directory"]
    for name, node in entries:
        t += [b"entry", b"(", b"name", name, b"node", *node, b")"]
    return t + [b")"]


def _nar(node):
    return nar_tokens(b"nix-archive-1", *node)


GOOD = _nar(_dir((b"a", _file()), (b"b", _file(b"yy", True))))

# (id, bytes, does Nix 2.8 itself reject it?)
BAD_NARS = [
    ("empty", b"", True),
    ("bad-magic", nar_tokens(b"nix-archive-2", *_file()), True),
    ("truncated-header", GOOD[:20], True),
    ("truncated-middle", GOOD[: len(GOOD) // 2], True),
    ("truncated-last-byte", GOOD[:-1], True),
    ("unknown-type", _nar([b"(", b"type", b"fifo", b")"]), True),
    ("unknown-token", _nar([b"(", b"type", b"regular", b"mode", b"644", b")"]), True),
    ("name-dot", _nar(_dir((b".", _file()))), True),
    ("name-dotdot", _nar(_dir((b"..", _file()))), True),
    ("name-slash", _nar(_dir((b"a/b", _file()))), True),
    ("name-empty", _nar(_dir((b"", _file()))), True),
    ("name-nul", _nar(_dir((b"a\0b", _file()))), True),
    ("executable-nonempty", _nar([b"(", b"type", b"regular", b"executable", b"yes",
                                  b"contents", b"x", b")"]), True),
    ("duplicate-entry", _nar(_dir((b"a", _file()), (b"a", _file()))), True),
    # Nix 2.8 accepts these (its sort check is broken, §2.4); vouch must be stricter.
    ("unsorted-entries", _nar(_dir((b"b", _file()), (b"a", _file()))), False),
    ("nonzero-padding", GOOD[:-49] + b"\x01" + GOOD[-48:], True),  # last pad byte of "yy"
    ("huge-length", b"\x0d" + b"\0" * 7 + b"nix-archive-1\0\0\0" + b"\xff" * 8, True),
]


@pytest.mark.parametrize("case,nar,nix_rejects", BAD_NARS, ids=[c[0] for c in BAD_NARS])
def test_nar_restore_rejects_malformed(vouch, tmp_path, case, nar, nix_rejects):
    nix = run(["nix-store", "--restore", tmp_path / "nix-out"], input=nar, check=False)
    assert (nix.returncode != 0) == nix_rejects, "test premise about Nix wrong:\n" + describe(nix)
    assert_usage_error(vouch("nar", "restore", tmp_path / "vouch-out", input=nar))


def test_nar_restore_good_control(vouch, tmp_path):
    """Control for the malformed cases: the hand-made valid NAR restores identically."""
    vouch.ok("nar", "restore", tmp_path / "o", input=GOOD)
    assert nix_dump(tmp_path / "o") == GOOD
