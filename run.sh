#!/usr/bin/env bash
# The catalog assistant in two commands:
#   bash run.sh app    install everything (first time), build the sample index if missing, start the app
#                      on this computer only (http://localhost:8501); add --network to serve the LAN too
#   bash run.sh test   install everything plus test tools, run the whole test suite
# Re-running is cheap: installs and the index are skipped when already done.
set -euo pipefail
cd "$(dirname "$0")"

VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"

install() {
  if ! command -v cmake >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "==> Installing the C/C++ build tools llama-cpp-python needs (apt)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential cmake >/dev/null
    else
      echo "!! llama-cpp-python compiles from source: install a C++ compiler and cmake (e.g. sudo apt install build-essential cmake)" >&2
    fi
  fi
  # Optional: the English-Spanish dictionary that bridges a question and a catalog in different languages (rag/bridge.py)
  if [ ! -f /usr/share/apertium/apertium-eng-spa/eng-spa.autobil.bin ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "==> Installing the English-Spanish dictionary (apt: apertium-eng-spa)"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apertium-eng-spa >/dev/null) \
        || echo "!! could not install apertium-eng-spa: cross-language questions are searched with their own words" >&2
    else
      echo "(optional) sudo apt install apertium-eng-spa: English questions over a Spanish catalog find its words" >&2
    fi
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> Creating the virtual environment in $VENV"
    "$PY" -m venv "$VENV"
  fi
  # -c constraints.txt: the exact versions the tests passed with, for what requirements.txt pulls in too
  # (a new openai release once broke every answer on a fresh install)
  local stamp="$VENV/.installed-$(cat requirements.txt constraints.txt "$@" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> Installing packages (first time: a few minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -c constraints.txt torch==2.13.0          # CPU build; must come first
    # llama-cpp-python is left to rag.engine: a plain pip build switches on every CPU feature,
    # AMX included, and that build crashes on AMX CPUs (see README, Troubleshooting).
    grep -v '^llama-cpp-python' requirements.txt > "$VENV/requirements-without-engine.txt"
    "$VENV/bin/python" -m pip install -q -c constraints.txt -r "$VENV/requirements-without-engine.txt" "${@/#/-r}"
    touch "$stamp"
  fi
  # Every time (a second when nothing changed): the llama.cpp build must pass its self-test on
  # THIS machine's CPU; builds it for this CPU (minus AMX) or falls back to a portable AVX2 build.
  echo "==> Checking the llama.cpp engine on this CPU (first time: compiles it, 4-10 minutes)"
  "$VENV/bin/python" -m rag.engine ensure
}

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False

case "${1:-app}" in
  app)
    # Localhost only unless asked: anyone who reaches the port can use every page.
    address=127.0.0.1
    case "${*:2}" in
      "") ;;
      --network) address=0.0.0.0 ;;
      *) echo "usage: bash run.sh app [--network]" >&2; exit 2 ;;
    esac
    install
    echo "==> Building the sample catalog index (skipped when nothing changed)"
    "$VENV/bin/python" -m ingest -q || [ $? -eq 1 ]   # 1 = some rows rejected (listed above); still start
    if [ "$address" = 127.0.0.1 ]; then
      echo "==> Starting the app: open http://localhost:${PORT:-8501} (this computer only; --network serves the LAN)"
    else
      echo "==> Starting the app on every network interface: open http://<this computer's address>:${PORT:-8501}"
    fi
    exec "$VENV/bin/streamlit" run streamlit_app.py --server.port "${PORT:-8501}" --server.address "$address"
    ;;
  test)
    # Debian packages the tests use: espeak-ng speaks the voice tests' questions, chromium runs the browser test
    missing=""
    command -v espeak-ng >/dev/null 2>&1 || missing="$missing espeak-ng"
    [ -x "${CATALOG_CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
    if [ -n "$missing" ]; then
      if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> Installing$missing (the voice tests speak with espeak-ng; the browser test drives chromium)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
      else
        echo "!! The tests need:$missing. Install with: sudo apt install$missing" >&2
      fi
    fi
    install requirements-dev.txt
    shift || true
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  freeze)
    # After changing requirements*.txt and passing `bash run.sh test`: pin what is installed for everyone
    {
      echo "# Every package version the test suite passed with (Python 3.11, Linux x86_64, CPU): run.sh installs these"
      echo "# (pip install -c). requirements.txt names what we use; this pins what it pulls in. Written by: bash run.sh freeze"
      grep '^llama-cpp-python==' requirements.txt   # rag.engine builds it for the CPU: pip lists a local wheel
      "$VENV/bin/python" -m pip freeze --exclude-editable | grep -v '^llama' | sed 's/^torch==\([0-9.]*\)+cpu$/torch==\1/'
    } > constraints.txt
    echo "constraints.txt: $(grep -vc '^#' constraints.txt) packages pinned"
    ;;
  *)
    echo "usage: bash run.sh app [--network] | bash run.sh test [pytest args] | bash run.sh freeze" >&2
    exit 2
    ;;
esac
