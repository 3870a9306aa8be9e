#!/usr/bin/env bash
# Times androguard's manifest parsing (androguard.core.apk.APK) against
# appscan (manifest + certificates + DEX) on the same APKs, and checks that
# both report the same manifest facts.
#
# Usage: scripts/bench-vs-androguard.sh [APK_DIR]   (default: ../shared/corpus/apk)
# Env:   VENV (default: target/androguard-venv), ITER (default: 5),
#        ANDROGUARD_VERSION (default: 4.1.1), CARGO_BUILD_JOBS (default: 1)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
ws="$(cd "$here/../.." && pwd)"
apk_dir="${1:-${APPWARDEN_SHARED:-$ws/../shared}/corpus/apk}"
venv="${VENV:-$ws/target/androguard-venv}"
iter="${ITER:-5}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "androguard==${ANDROGUARD_VERSION:-4.1.1}"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/ag.py" <<'PY'
import json, sys, time, statistics, logging
from loguru import logger
logger.remove()
from androguard.core.apk import APK
it = int(sys.argv[1])
for path in sys.argv[2:]:
    times = []
    for _ in range(it):
        t = time.perf_counter()
        a = APK(path)
        facts = {
            "package": a.get_package(),
            "version_name": a.get_androidversion_name(),
            "version_code": a.get_androidversion_code(),
            "min_sdk": a.get_min_sdk_version(),
            "target_sdk": a.get_target_sdk_version(),
            "permissions": sorted(set(a.get_permissions())),
        }
        times.append(time.perf_counter() - t)
    print(json.dumps({"file": path.rsplit("/", 1)[-1], "median_s": statistics.median(times), "facts": facts}))
PY

(cd "$ws" && cargo build --quiet --release -p appscan --example scan_timing)
"$ws/target/release/examples/scan_timing" "$iter" "$apk_dir"/*.apk > "$tmp/rs.jsonl"
"$venv/bin/python" "$tmp/ag.py" "$iter" "$apk_dir"/*.apk > "$tmp/ag.jsonl"

python3 - "$tmp/rs.jsonl" "$tmp/ag.jsonl" <<'PY'
import json, sys
rs = {j["file"]: j for j in map(json.loads, open(sys.argv[1]))}
ag = {j["file"]: j for j in map(json.loads, open(sys.argv[2]))}
print(f"{'apk':50} {'androguard APK() ms':>19} {'appscan manifest ms':>19} {'speed-up':>9} {'appscan full scan ms':>20}  same manifest")
ok = True
for f in sorted(ag):
    a, r = ag[f], rs[f]
    same = a["facts"] == r["facts"]
    ok &= same
    print(f"{f:50} {a['median_s']*1e3:19.2f} {r['median_manifest_s']*1e3:19.3f} {a['median_s']/r['median_manifest_s']:8.0f}x {r['median_full_s']*1e3:20.1f}  {same}")
    if not same:
        print("   androguard:", a["facts"]); print("   appscan:   ", r["facts"])
sys.exit(0 if ok else 1)
PY
