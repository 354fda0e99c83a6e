#!/usr/bin/env bash
# Makes vmbox's own prompts (those Asterisk's core sounds lack) from their texts:
#
#   prompts/en/texts.tsv  (<name><TAB><text>, one a line)  ->  <name>.wav, 8 kHz 16-bit mono PCM
#
#   prompts/make_prompts.sh         (re)write every prompt into prompts/en
#   prompts/make_prompts.sh DIR     write them into DIR instead (e.g. a directory Asterisk can read)
#
# Speech by espeak-ng, conversion by sox; both are installed with apt when missing. The output is
# reproducible (sox dithering off), so running it again changes no file unless a text changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
texts="$here/en/texts.tsv"
out="${1:-$here/en}"
voice="en-us+f3"  # a female variant, nearer to the core sounds' voice
words_per_minute=150  # a little slower than espeak-ng's 175: clearer over the phone
say() { echo "make_prompts.sh: $*" >&2; }

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

tools() {
    local missing=()
    command -v espeak-ng >/dev/null || missing+=(espeak-ng)
    command -v sox >/dev/null || missing+=(sox)
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

make_prompt() {  # $1 = name, $2 = text
    local speech="$scratch/$1.speech.wav" wav="$scratch/$1.wav"
    espeak-ng -v "$voice" -s "$words_per_minute" -w "$speech" -- "$2"
    # -D: no dither, for reproducible files; rate: 8 kHz as Asterisk's `wav` format; silence/reverse:
    # trim espeak-ng's leading and trailing silence; pad: a short pause before what follows; norm: loudness.
    sox -V1 "$speech" -D -b 16 -e signed-integer -c 1 "$wav" rate -h 8000 \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0 0.25 norm -3
    mv -f "$wav" "$out/$1.wav"
}

tools
mkdir -p "$out"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
count=0
while IFS=$'\t' read -r name text; do
    case "$name" in ''|'#'*) continue ;; esac
    [[ "$name" =~ ^[a-z][a-z0-9_]*$ ]] || { say "bad prompt name '$name' in $texts"; exit 1; }
    [ -n "$text" ] || { say "prompt '$name' has no text in $texts"; exit 1; }
    make_prompt "$name" "$text"
    count=$((count + 1))
done <"$texts"
say "$count prompts written to $out"
