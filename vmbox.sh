#!/usr/bin/env bash
# Installs what vmbox needs on this machine (once; later runs only check), then runs it.
#
#   ./vmbox.sh serve              install, then `vmbox serve` (any `vmbox` arguments work, e.g. `account list`)
#   ./vmbox.sh test [PYTEST ARGS] install what the tests need too, then run the whole suite
#
# The call tests run on a real Asterisk when one is found: $VMBOX_TEST_ASTERISK (an install prefix or
# the extracted prebuilt of ../shared/asterisk, whose libraries are then installed too), else
# `asterisk` on PATH; without one they are skipped and pytest's summary says how many.
# Python packages go into a virtual environment (.venv, or $VMBOX_VENV); system packages (ffmpeg, and
# for the tests sox, openssl, chromium, PostgreSQL, Asterisk's English sound files and their transcripts)
# come from apt when missing. The
# tests also install the optional `transcribe` extra (pocketsphinx), to test the offline transcription engine.
set -euo pipefail
cd "$(dirname "$0")"
venv=${VMBOX_VENV:-.venv}
say() { echo "vmbox.sh: $*" >&2; }
# Libraries the prebuilt Asterisk of ../shared/asterisk needs on Debian 12 (tests/asterisk runs it).
ASTERISK_RUNTIME="libgsm1 libogg0 libspeex1 libspeexdsp1 libsrtp2-1 libvorbis0a libvorbisenc2 libvorbisfile3"

apt_install() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { say "need root or sudo to install: $*"; exit 1; }
        sudo=sudo
    fi
    say "installing with apt: $*"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

system_packages() {  # $1 = serve | test
    local missing=()
    command -v ffmpeg >/dev/null || missing+=(ffmpeg)
    python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
    if [ "$1" = test ]; then
        command -v sox >/dev/null || missing+=(sox)
        command -v openssl >/dev/null || missing+=(openssl)
        command -v chromium >/dev/null || missing+=(chromium)  # the web page's tests (Playwright drives it)
        # Every store test runs on PostgreSQL too: tests/pgkit.py makes a cluster of its own from these.
        compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
        # A font for the page's text (apt leaves chromium's recommended one out): the README's screenshots.
        [ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
        [ -d /usr/share/asterisk/sounds/en_US_f_Allison ] || missing+=(asterisk-core-sounds-en-wav)
        [ -e /usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz ] || missing+=(asterisk-core-sounds-en)
        if [ -n "${VMBOX_TEST_ASTERISK:-}" ]; then  # what the prebuilt Asterisk links against
            local package
            for package in $ASTERISK_RUNTIME; do
                dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
            done
        fi
    fi
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

python_packages() {  # $1 = serve | test
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { say "vmbox needs Python 3.11 or newer"; exit 1; }
    [ -x "$venv/bin/python" ] || { say "creating the virtual environment $venv"; python3 -m venv "$venv"; }
    local extra="" stamp
    [ "$1" = test ] && extra="[test,transcribe]"
    stamp="$venv/.vmbox-installed-$(cat pyproject.toml | sha256sum | cut -c1-16)$1"
    if [ ! -e "$stamp" ]; then
        say "installing Python packages into $venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".$extra"
        touch "$stamp"
    fi
}

mode=serve
[ "${1:-}" = test ] && mode=test
system_packages "$mode"
python_packages "$mode"
if [ "$mode" = test ]; then
    shift
    exec "$venv/bin/python" -m pytest "$@"
fi
exec "$venv/bin/vmbox" "$@"
