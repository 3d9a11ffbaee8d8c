"""Random derivation specs for drvs.nix (instantiated, never built)."""

from __future__ import annotations

import base64
import random

from interop_util import nix32

NAME_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-._?="
OUT_NAMES = ["dev", "lib", "bin", "doc", "man", "static", "debug", "o2", "Out", "x-y", "a.b"]
ALGOS = {"md5": 16, "sha1": 20, "sha256": 32, "sha512": 64}

TRICKY = ['"', "\\", "\n", "\t", "\r", "é", "☃", "🎉", "\x01", "\x7f", "\x08", "\x0b", "\x1b",
          "\x1f", "$", "${", "$out", "Derive(", '","', '\\"', "\\n", ")", "[", "]", "(", ",",
          "\u2028", "\ufeff", "\u0080", "\u00ff", "日本", " ", "  ", "'", "`", "\\\\", "\"\"",
          "\r\n", "%s", "{}", "/nix/store/", "!out"]
KEYS = ["Zupper", 'key with "quote"', "a b", "é", "_", "1abc", "UPPER", "lower", "key\nnl",
        "back\\slash", "tab\tkey", "☃", "PATH", "z", "aa", "a", "A", "__notspecial", "x.y",
        "ctl\x01", "HOME", "dollar$", "\u00e9\u0301"]
RESERVED = {"name", "system", "builder", "args", "outputs", "out", "outputHash", "outputHashAlgo",
            "outputHashMode", "__contentAddressed", "__structuredAttrs", "__ignoreNulls",
            "__impure", "allowedReferences", "allowedRequisites", "disallowedReferences",
            "disallowedRequisites", "exportReferencesGraph", "impureEnvVars", "preferLocalBuild",
            "allowSubstitutes", "passAsFile", "__json"} | set(OUT_NAMES)

KINDS = ["ia", "fod", "ca", "ia-multi", "fod", "deferred", "ca-multi", "fod", "ia", "structured"]
FOD_COMBOS = [(a, m) for a in ALGOS for m in ("flat", "recursive")]


def _tricky_string(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.05:
        return ""
    if r < 0.1:
        return "".join(rng.choice(TRICKY) for _ in range(rng.randint(500, 3000)))
    parts = []
    for _ in range(rng.randint(1, 12)):
        parts.append(rng.choice(TRICKY) if rng.random() < 0.6
                     else "".join(rng.choice("abcXYZ 019") for _ in range(rng.randint(1, 8))))
    return "".join(parts)


def _name(rng: random.Random) -> str:
    n = rng.choice([1, 3, 8, 12, 20, 40]) if rng.random() < 0.95 else rng.randint(100, 180)
    s = "".join(rng.choice(NAME_CHARS) for _ in range(n))
    if s.endswith(".drv"):
        s += "x"
    return s


def _encode_hash(rng: random.Random, algo: str, digest: bytes) -> tuple[str, bool]:
    """Returns (outputHash string, whether it is SRI)."""
    enc = rng.choice(["base16", "nix32", "base64", "sri", "BASE16"])
    if enc == "base16":
        return digest.hex(), False
    if enc == "BASE16":
        return digest.hex().upper(), False
    if enc == "nix32":
        return nix32(digest), False
    if enc == "base64":
        return base64.b64encode(digest).decode(), False
    return f"{algo}-{base64.b64encode(digest).decode()}", True


def make_spec(rng: random.Random, n: int, binary_file: str | None, system: str) -> dict:
    srcs = []
    for i in range(rng.randint(3, 6)):
        content: list = [_tricky_string(rng).replace("\0", "")]
        if i and rng.random() < 0.5:  # toFile referencing an earlier toFile
            content += [" ref=", {"src": rng.randrange(i)}, "\n"]
        srcs.append({"name": _name(rng).lstrip(".") or "src", "content": content})

    fods = FOD_COMBOS[:]
    rng.shuffle(fods)
    drvs: list[dict] = []
    kinds: dict[str, str] = {}
    ca_ids: list[str] = []
    outputs_of: dict[str, list[str]] = {}

    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        did = f"d{i:02d}"
        name = _name(rng)
        env: dict = {}
        extra: dict = {}
        outs = ["out"]
        if kind in ("ia-multi", "ca-multi") or (kind == "structured" and rng.random() < 0.5):
            outs = rng.sample(OUT_NAMES, rng.randint(1, 4))
            if rng.random() < 0.7:
                outs.insert(rng.randint(0, len(outs)), "out")
            extra["outputs"] = outs
        name = name[: 200 - max(len(o) for o in outs)]

        # dependencies on earlier drvs and sources
        deps: list = []
        earlier = [d["id"] for d in drvs]
        if earlier:
            for dep in rng.sample(earlier, min(len(earlier), rng.choice([0, 0, 1, 1, 2, 3]))):
                deps.append({"drv": dep, "out": rng.choice(outputs_of[dep])})
        if kind == "deferred":
            dep = rng.choice(ca_ids)
            deps.append({"drv": dep, "out": rng.choice(outputs_of[dep])})
        for _ in range(rng.choice([0, 0, 1, 2])):
            deps.append({"src": rng.randrange(len(srcs))})

        script = ["echo ", {"placeholder": rng.choice(outs)}, " > $out; "] if rng.random() < 0.3 else []
        for d in deps:
            script += ["read x < ", d, "; "]
        script.append(_tricky_string(rng))
        args = ["-c", script] + [_tricky_string(rng) for _ in range(rng.choice([0, 0, 1, 3]))]

        for _ in range(rng.randint(0, 8)):
            k = rng.choice(KEYS) if rng.random() < 0.7 else _tricky_string(rng)[:20]
            if k in RESERVED or k in outs or k in env or k in extra:
                continue
            if rng.random() < 0.25 and deps:
                env[k] = [_tricky_string(rng), rng.choice(deps), _tricky_string(rng)]
            else:
                env[k] = _tricky_string(rng)
        if rng.random() < 0.3:
            env["dep"] = deps[:1] or "none"
        if rng.random() < 0.2:
            extra.update({"anInt": rng.randint(-5, 10**9), "aTrue": True, "aFalse": False,
                          "aList": ["x", 1, True, "y z"], "aNull": None})
        if binary_file and i == n // 2:
            env["binaryValue"] = ["<", {"file": binary_file}, ">"]
        if rng.random() < 0.05:
            env[""] = "value of the empty key"

        if kind == "fod":
            algo, mode = fods.pop() if fods else (rng.choice(list(ALGOS)), rng.choice(["flat", "recursive"]))
            h, sri = _encode_hash(rng, algo, rng.randbytes(ALGOS[algo]))
            extra["outputHash"] = h
            if not sri or rng.random() < 0.5:
                extra["outputHashAlgo"] = algo
            if mode == "recursive" or rng.random() < 0.5:
                extra["outputHashMode"] = mode
            extra.pop("outputs", None)
            outs = ["out"]
        elif kind in ("ca", "ca-multi"):
            extra["__contentAddressed"] = True
            mode = "recursive" if kind == "ca-multi" else rng.choice(["recursive", "flat"])
            if mode == "flat" or rng.random() < 0.7:
                extra["outputHashMode"] = mode
            algo = rng.choice(["sha256", "sha256", "sha512", "sha1"])
            if algo != "sha256" or rng.random() < 0.7:
                extra["outputHashAlgo"] = algo
            ca_ids.append(did)
        elif kind == "structured":
            extra["__structuredAttrs"] = True
            extra["nested"] = {"list": [1, "two", None, {"é": _tricky_string(rng)}],
                               "bool": False, "str": _tricky_string(rng)}
        if "aNull" in extra and rng.random() < 0.5:
            extra["__ignoreNulls"] = True

        outputs_of[did] = outs
        kinds[did] = kind
        drvs.append({"id": did, "name": name, "args": args, "env": env, "extra": extra})

    return {"system": system, "srcs": srcs, "drvs": drvs, "kinds": kinds}
