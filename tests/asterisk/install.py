"""Where the tests find an Asterisk: `VMBOX_TEST_ASTERISK` (an install prefix, or the prebuilt tarball
extracted: `sbin/asterisk`, `lib/asterisk/modules`, `var/lib/asterisk/{documentation,rest-api}`), else
`asterisk` on PATH. Asterisk's sounds come from Debian's asterisk-core-sounds-en-wav, as vmbox's do."""

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ENV = "VMBOX_TEST_ASTERISK"
SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")


class NoAsterisk(Exception):
    """No usable Asterisk: the message says what was looked for and what to do."""


@dataclass(frozen=True)
class Installation:
    binary: Path  # sbin/asterisk
    modules: Path  # the directory of its *.so modules
    data: Path  # holds documentation/ and rest-api/ (Asterisk refuses to start without them)
    libraries: Path  # for LD_LIBRARY_PATH: the prebuilt's run path points where it was built
    version: str

    def environ(self) -> dict[str, str]:
        """The environment to run the binary in."""
        path = os.environ.get("LD_LIBRARY_PATH", "")
        return {
            **os.environ,
            "LD_LIBRARY_PATH": f"{self.libraries}:{path}" if path else str(self.libraries),
        }


def _first(*candidates: Path) -> Path | None:
    return next((path for path in candidates if path.is_dir()), None)


def _at(prefix: Path) -> Installation:
    binary = prefix / "sbin" / "asterisk"
    if not binary.is_file():
        raise NoAsterisk(
            f"{ENV}={prefix}: there is no sbin/asterisk under it (give an install prefix, or the"
            " directory the prebuilt tarball extracts to)"
        )
    modules = _first(
        prefix / "lib" / "asterisk" / "modules",
        prefix / "lib64" / "asterisk" / "modules",
        Path("/usr/lib/asterisk/modules"),
    )
    data = _first(
        *(
            base
            for base in (
                prefix / "var" / "lib" / "asterisk",
                prefix / "share" / "asterisk",
                Path("/var/lib/asterisk"),
                Path("/usr/share/asterisk"),
            )
            if (base / "documentation").is_dir()
        )
    )
    if modules is None or data is None:
        raise NoAsterisk(
            f"Asterisk at {prefix}: no modules directory or no documentation directory found"
        )
    installation = Installation(binary, modules, data, prefix / "lib", "")
    try:
        run = subprocess.run(
            [str(binary), "-V"],
            capture_output=True,
            text=True,
            timeout=30,
            env=installation.environ(),
        )
    except OSError as exc:
        raise NoAsterisk(f"{binary} does not run: {exc}") from None
    if run.returncode != 0 or not run.stdout.startswith("Asterisk "):
        raise NoAsterisk(
            f"{binary} -V failed ({run.returncode}): {(run.stdout + run.stderr).strip()[:500]}"
            " (the prebuilt needs libgsm1 libogg0 libspeex1 libspeexdsp1 libsrtp2-1 libvorbis0a"
            " libvorbisenc2 libvorbisfile3; ./vmbox.sh test installs them)"
        )
    return Installation(binary, modules, data, prefix / "lib", run.stdout.split()[1])


def find_asterisk() -> Installation:
    """The Asterisk to test against. Raises NoAsterisk saying why there is none."""
    if os.environ.get(ENV):
        return _at(Path(os.environ[ENV]).absolute())
    found = shutil.which("asterisk") or next(
        (str(path) for path in (Path("/usr/sbin/asterisk"),) if path.is_file()), None
    )
    if found is None:
        raise NoAsterisk(
            f"no Asterisk: set {ENV} to an install prefix (or the extracted prebuilt in"
            " ../shared/asterisk), or put asterisk on PATH"
        )
    return _at(Path(found).resolve().parent.parent)


def required(installation: Installation) -> None:
    """Raise NoAsterisk if what the harness needs beside Asterisk is missing."""
    if not (SOUNDS / "vm-intro.wav").is_file():
        raise NoAsterisk(
            f"Asterisk's English sounds are missing ({SOUNDS}): apt install asterisk-core-sounds-en-wav"
        )
