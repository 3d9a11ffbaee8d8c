"""Random file-tree generator for the NAR interop tests."""

from __future__ import annotations

import os
import random
from pathlib import Path

NAME_POOL = [
    "a", "A", "b", "B", "Z", "_", "-", "a b", "a.b", "a-b", "ab", "a~", "10", "9", "é",
    "e\u0301", "☃", "日本語", "🎉 party", "space ", " lead", "x.y.z", ".hidden", "...",
    "-dash", "quote\"d", "back\\slash", "dollar$", "semi;colon", "tab\there",
    "new\nline", "ctl\x01", "del\x7f", "ünïcødé", "Ω", "zzz", "Makefile", "README.md",
    "#hash", "%pct", "=eq", "?q", "[b]", "{c}", "'s", "*", ",", "a" * 200, "ß" * 100,
]

TARGET_POOL = [
    "../x", "sub/file", "/nix/store/xyz-target", "/etc/passwd", "nonexistent",
    "dangling/deep/../link", ".", "..", "/", "a b", "ünï/cødé", "./a",
    "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-" + "t" * 150, "x" * 1000,
]

MODES = [0o644, 0o644, 0o644, 0o755, 0o755, 0o600, 0o700, 0o744, 0o645, 0o655, 0o444, 0o555]


def _name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return rng.choice(NAME_POOL)
    if r < 0.8:
        alphabet = "abcXYZ019 _-.é☃ü"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))).strip() or "n"
    return "".join(chr(rng.choice([rng.randint(0x21, 0x7e), rng.randint(0xa1, 0x2fff)]))
                   for _ in range(rng.randint(1, 8))).replace("/", "_")


def _contents(rng: random.Random, big_budget: list[int]) -> bytes:
    r = rng.random()
    if r < 0.15:
        return b""
    if r < 0.45:
        n = rng.choice([1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 63, 64, 65])
        return rng.randbytes(n)
    if r < 0.8:
        return "".join(rng.choice("abc \n\té☃\"\\$") for _ in range(rng.randint(1, 300))).encode()
    if r < 0.97 or big_budget[0] <= 0:
        return rng.randbytes(rng.randint(100, 20000))
    n = min(big_budget[0], rng.randint(256 * 1024, 3 * 1024 * 1024))
    big_budget[0] -= n
    return rng.randbytes(n)


def _write_file(p: Path, data: bytes, mode: int):
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, mode)


def _fill_dir(rng, d: Path, depth: int, budget: list[int], big: list[int], width: int):
    n = rng.randint(0, width)
    used = set()
    for _ in range(n):
        if budget[0] <= 0:
            break
        name = _name(rng)
        if name in used or name in (".", ".."):
            continue
        used.add(name)
        budget[0] -= 1
        p = d / name
        r = rng.random()
        if r < 0.55:
            _write_file(p, _contents(rng, big), rng.choice(MODES))
        elif r < 0.72:
            os.symlink(rng.choice(TARGET_POOL + [n for n in used if n != name] or ["x"]), p)
        else:
            p.mkdir()
            if depth > 0:
                _fill_dir(rng, p, depth - 1, budget, big, max(2, width // 2))


def make_tree(rng: random.Random, root: Path, index: int) -> Path:
    """Create tree number `index` at `root` (which must not exist). Returns root."""
    big = [4 * 1024 * 1024 if index % 10 == 3 else 0]
    shape = index % 10
    if shape == 0:
        _write_file(root, _contents(rng, big) if index else b"", rng.choice(MODES))
    elif shape == 1:
        os.symlink(rng.choice(TARGET_POOL), root)
    elif shape == 2:
        root.mkdir()
        if index % 20 == 2:  # empty directory root
            return root
        _fill_dir(rng, root, 2, [30], big, 8)
    elif shape == 4:  # deep chain
        root.mkdir()
        d = root
        for i in range(rng.randint(20, 60)):
            d = d / rng.choice(["d", "deeper", "ü", "x y"])
            d.mkdir()
            if rng.random() < 0.2:
                _write_file(d / "f", rng.randbytes(rng.randint(0, 40)), rng.choice(MODES))
        _write_file(d / "leaf", b"leaf\n", 0o755)
        os.symlink("../" * 5, d / "up")
    elif shape == 5:  # wide directory
        root.mkdir()
        names = set()
        for i in range(rng.randint(150, 400)):
            names.add(f"{rng.choice(['f', 'F', 'é', '_', '0', 'a b'])}{rng.randint(0, 10**6)}")
        names.update(NAME_POOL)
        for nm in names:
            r = rng.random()
            if r < 0.8:
                _write_file(root / nm, rng.randbytes(rng.randint(0, 30)), rng.choice(MODES))
            elif r < 0.9:
                os.symlink(rng.choice(TARGET_POOL), root / nm)
            else:
                (root / nm).mkdir()
    else:
        root.mkdir()
        _fill_dir(rng, root, rng.randint(2, 6), [rng.randint(10, 120)], big, 12)
        if big[0] > 0:  # guarantee a few larger files (multi-MB, not multiples of 8)
            _write_file(root / "big file.bin", rng.randbytes(big[0] - rng.randint(1, 7)),
                        rng.choice(MODES))
            (root / "big dir").mkdir(exist_ok=True)
            _write_file(root / "big dir" / "medium", rng.randbytes(rng.randint(65536, 300000)),
                        0o755)
    return root


def make_non_utf8_tree(root: Path) -> Path:
    """Names and symlink targets that are not valid UTF-8 (legal on Linux, and in NAR)."""
    root.mkdir()
    rb = os.fsencode(root)
    for raw in (b"\xff", b"caf\xe9", b"\xc3\x28", b"ok"):
        with open(os.path.join(rb, raw), "wb") as f:
            f.write(raw + b"\n")
    os.symlink(b"\xfe\xfd-target", os.path.join(rb, b"link\x80"))
    os.mkdir(os.path.join(rb, b"dir\xa0"))
    with open(os.path.join(rb, b"dir\xa0", b"inner"), "wb") as f:
        f.write(b"\x00\xff")
    return root
