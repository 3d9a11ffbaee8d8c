"""Live interop suite: `vouch` against real Nix 2.8.

Environment:
  VOUCH_BIN    path of the vouch binary (default <repo>/.build/debug/vouch)
  VOUCH_SEED   integer seed for the random inputs (default: time-based, printed)
  REQUIRE_NIX  =1: a missing/broken Nix is a test FAILURE instead of a skip (CI)
  NIX_CONFIG   left alone when set; otherwise the single-user root config below is used
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from interop_util import NIX_CONFIG_DEFAULT, REQUIRE_NIX, SEED, Vouch, describe

REPO = Path(__file__).resolve().parents[2]

# Everything Nix does in this session uses its own cache dir, so narinfo lookups
# (including negative ones) cached by earlier runs never leak into a test.
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="vouch-interop-"))
os.environ.setdefault("NIX_CONFIG", NIX_CONFIG_DEFAULT)
os.environ["XDG_CACHE_HOME"] = str(_SESSION_TMP / "xdg-cache")
os.environ.pop("NIX_REMOTE", None)


def pytest_report_header(config):
    return [f"vouch interop: VOUCH_SEED={SEED}  VOUCH_BIN={vouch_bin_path()}",
            f"REQUIRE_NIX={'1' if REQUIRE_NIX else '0'}  nix={shutil.which('nix')}"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminalreporter.write_line(
        f"vouch interop seed: VOUCH_SEED={SEED} (re-run with this to reproduce)")


def pytest_sessionfinish(session, exitstatus):
    if not os.environ.get("VOUCH_KEEP_TMP"): shutil.rmtree(_SESSION_TMP, ignore_errors=True)


def vouch_bin_path() -> Path:
    return Path(os.environ.get("VOUCH_BIN") or REPO / ".build" / "debug" / "vouch")


# --------------------------------------------------------------------------- nix gate

_nix_problem: str | None = None


def _probe_nix() -> str | None:
    for tool in ("nix", "nix-store", "nix-instantiate"):
        if shutil.which(tool) is None:
            return f"{tool} not found on PATH"
    try:
        r = subprocess.run(["nix-instantiate", "--eval", "-E", "1 + 1"],
                           capture_output=True, timeout=60)
    except Exception as e:  # pragma: no cover
        return f"running nix-instantiate failed: {e}"
    if r.returncode != 0 or r.stdout.strip() != b"2":
        return "nix does not work here:\n" + describe(r)
    return None


@pytest.fixture(scope="session", autouse=True)
def require_nix():
    global _nix_problem
    _nix_problem = _probe_nix()
    if _nix_problem:
        if REQUIRE_NIX:
            pytest.fail(f"REQUIRE_NIX=1 but {_nix_problem}", pytrace=False)
        pytest.skip(f"Nix unavailable: {_nix_problem}")
    v = subprocess.run(["nix", "--version"], capture_output=True, text=True).stdout.strip()
    return v


@pytest.fixture(scope="session")
def vouch_bin() -> Path:
    p = vouch_bin_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"vouch binary not found at {p} (build it with `swift build --product vouch` "
                    f"or set VOUCH_BIN)", pytrace=False)
    return p


@pytest.fixture(scope="session")
def vouch(vouch_bin) -> Vouch:
    return Vouch(vouch_bin)


@pytest.fixture(scope="session")
def seed() -> int:
    return SEED


@pytest.fixture(scope="session")
def session_tmp() -> Path:
    return _SESSION_TMP
