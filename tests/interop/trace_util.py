"""Helpers for test_trace.py: DSSE envelopes and in-toto statements handled independently of
vouch (Python `cryptography`, and the PyPI reference tools securesystemslib and
in-toto-attestation when installed)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest

from interop_util import REQUIRE_NIX, parse_hash

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def need(module: str, pip_name: str):
    """Import `module`; a missing package skips the test, or fails it under REQUIRE_NIX=1."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        msg = (f"Python package '{pip_name}' is not installed ({e}); "
               f"`python3 -m pip install {pip_name}`")
        if REQUIRE_NIX:
            pytest.fail(f"REQUIRE_NIX=1 but {msg}", pytrace=False)
        pytest.skip(msg)


def have(module: str) -> bool:
    import importlib
    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False


def sri_to_hex(h: str) -> str:
    algo, digest = parse_hash(h)
    assert algo == "sha256", h
    return digest.hex()


def canonical(obj) -> bytes:
    """Vouch's canonical JSON (sorted keys, no whitespace, minimal escapes); ASCII keys only here."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def load_envelope(path: Path | str) -> dict:
    return json.loads(Path(path).read_text())


def payload_of(env: dict) -> bytes:
    return base64.b64decode(env["payload"], validate=True)


def statement_of(env: dict) -> dict:
    return json.loads(payload_of(env))


def with_statement(env: dict, stmt: dict, raw: bytes | None = None) -> dict:
    """A copy of `env` whose payload is `stmt` (canonical) or `raw`; signatures kept as they are."""
    out = copy.deepcopy(env)
    out["payload"] = b64(raw if raw is not None else canonical(stmt))
    return out


def write_envelope(path: Path, env: dict) -> Path:
    path.write_text(json.dumps(env))
    return path


def ed25519_keypair_from_nix(secret_file: Path | str) -> tuple[str, bytes, bytes]:
    """(name, 32-byte seed, 32-byte public key) of a Nix secret key file `name:base64(64)`."""
    name, b = Path(secret_file).read_text().strip().split(":", 1)
    raw = base64.b64decode(b)
    assert len(raw) == 64
    return name, raw[:32], raw[32:]


def sign_pae(seed: bytes, payload_type: str, payload: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return Ed25519PrivateKey.from_private_bytes(seed).sign(pae(payload_type, payload))


def nix_pubkey(name: str, pub: bytes) -> str:
    return f"{name}:{b64(pub)}"


# --------------------------------------------------------------------------- reference tools

def sslib_key(pub: bytes, keyid: str):
    from securesystemslib.signer import SSlibKey
    return SSlibKey(keyid=keyid, keytype="ed25519", scheme="ed25519", keyval={"public": pub.hex()})


def sslib_verify(env: dict, pub: bytes, keyid: str) -> None:
    """Raises securesystemslib VerificationError (or ValueError/KeyError on malformed input)."""
    from securesystemslib.dsse import Envelope
    e = Envelope.from_dict(copy.deepcopy(env))  # from_dict mutates its argument
    e.verify([sslib_key(pub, keyid)], 1)
    assert e.payload_type == PAYLOAD_TYPE


def sslib_rejects(env: dict, pub: bytes, keyid: str) -> str | None:
    """None if securesystemslib accepts `env` under (pub, keyid), else the reason it rejects it."""
    from securesystemslib.exceptions import VerificationError
    try:
        sslib_verify(env, pub, keyid)
    except (VerificationError, ValueError, KeyError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def intoto_validate(payload: bytes) -> None:
    """in_toto_attestation: v1 Statement parse + validate, and a strict SLSA provenance v1 parse
    of the predicate (unknown fields or malformed timestamps raise)."""
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    pb = json_format.Parse(payload, statement_pb2.Statement())  # strict: no unknown fields
    Statement.copy_from_pb(pb).validate()
    json_format.Parse(json.dumps(json.loads(payload)["predicate"]), provenance_pb2.Provenance())
