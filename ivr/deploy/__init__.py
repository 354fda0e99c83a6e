"""Files for running vmbox on a server: the systemd unit (`vmbox service` prints it)."""

import shutil
import sys
from importlib.resources import files
from pathlib import Path


def service_unit(vmbox: str | None = None) -> str:
    """The systemd unit, its ExecStart the `vmbox` executable given, else the one beside the Python
    running now (a virtual environment's), else the one on PATH."""
    beside = Path(sys.executable).with_name("vmbox")
    vmbox = vmbox or (str(beside) if beside.exists() else shutil.which("vmbox") or "vmbox")
    return files(__name__).joinpath("vmbox.service").read_text().replace("@VMBOX@", vmbox)
