#!/usr/bin/env bash
# memlev report: demo results (+ a transfer fixture) -> valid PNG/SVG plots and an index.html
# that headless Chromium renders with the expected headings and no broken images; bad input
# fails with one line naming the file/field and leaves no partial output.
set -uo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
SRC="${ML_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
# under ASan: fontconfig's process-lifetime font cache is not a leak of ours
export LSAN_OPTIONS="suppressions=$SRC/tests/lsan-fontconfig.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
check() { local what="$1"; shift; if "$@"; then ok; else bad "$what"; fi; }

# PNG: signature, IHDR first with a sane size, IEND last, every chunk's CRC right.
cat >"$T/png.py" <<'PY'
import struct, sys, zlib
bad = 0
for f in sys.argv[1:]:
    try:
        b = open(f, "rb").read()
        assert b[:8] == b"\x89PNG\r\n\x1a\n", "signature"
        i, kinds = 8, []
        while i < len(b):
            n, = struct.unpack(">I", b[i:i + 4]); k = b[i + 4:i + 8]; d = b[i + 8:i + 8 + n]
            crc, = struct.unpack(">I", b[i + 8 + n:i + 12 + n])
            assert zlib.crc32(k + d) & 0xffffffff == crc, "crc of " + k.decode()
            kinds.append(k); i += 12 + n
        assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds, "chunks"
        w, h = struct.unpack(">II", b[16:24])
        assert 100 <= w <= 10000 and 100 <= h <= 20000, "size"
    except Exception as e:
        print(f"{f}: not a valid PNG ({e})"); bad += 1
sys.exit(1 if bad else 0)
PY
pngs_ok() { python3 "$T/png.py" "$@"; }
svgs_ok() { for f in "$@"; do head -c 300 "$f" | grep -q "<svg" && tail -c 100 "$f" | grep -q "</svg>" || { echo "$f: not an SVG"; return 1; }; done; }

# 1. demo writes results and calls report (short population: the figures, not the figures' numbers)
# (the status is saved before anything else runs: $? inside check's arguments would be that of
# the $(...) in the message)
"$ML" demo --out "$T/demo" --devices 20 --images 200 --trials 1 --quiet >"$T/demo.out" 2>"$T/demo.err"; rc=$?
check "demo exit status $rc ($(tail -1 "$T/demo.err"))" [ $rc -eq 0 ]
for f in staircase steps levels states sweep cost; do
  check "demo: $f.png" pngs_ok "$T/demo/$f.png"
  check "demo: $f.svg" svgs_ok "$T/demo/$f.svg"
done
check "demo: index.html" [ -s "$T/demo/index.html" ]

# 2. report with a transfer result as well, into a new folder; PNG only for this one
"$ML" report "$T"/demo/levels-*.json "$SRC/tests/fixtures/transfer-small.json" --out "$T/rep" --no-svg --title "Test <report>" >"$T/rep.out" 2>"$T/rep.err"; rc=$?
check "report exit status $rc ($(cat "$T/rep.err"))" [ $rc -eq 0 ]
check "report: stderr empty" [ ! -s "$T/rep.err" ]
check "report: one line on stdout" [ "$(wc -l <"$T/rep.out")" -eq 1 ]
check "report: all PNGs valid" pngs_ok "$T"/rep/*.png
check "report: accuracy plots" pngs_ok "$T/rep/accuracy.png" "$T/rep/transfer-cost.png"
check "report: no SVG with --no-svg" [ -z "$(ls "$T"/rep/*.svg 2>/dev/null)" ]
check "report: no temporary files" [ -z "$(ls "$T"/rep/ "$T"/demo/ | grep '\.tmp\.')" ]
check "report: title escaped" grep -q "<h1>Test &lt;report&gt;</h1>" "$T/rep/index.html"
check "report: no network references" bash -c "! grep -Eq '(https?:)?//' '$T/rep/index.html'"
check "report: transfer table" grep -q "Float baseline accuracy <b>91.20" "$T/rep/index.html"
# every summary row has a cell per heading (devices_verify among them: feedforward's devices
# the open-loop check sent to write-verify)
check "report: summary and transfer tables list devices by verify" \
  [ "$(grep -c '<th>devices by verify</th>' "$T/rep/index.html")" -eq 2 ]
check "report: rows as wide as their headings" python3 -c '
import re, sys
h = open(sys.argv[1]).read()
for t in re.findall(r"<table>(.*?)</table>", h, re.S):
    rows = re.findall(r"<tr>(.*?)</tr>", t, re.S)
    n = [len(re.findall(r"<t[hd][ >]", r)) for r in rows]
    assert len(set(n)) == 1, n
' "$T/rep/index.html"
# a transfer result alone gives a page without the levels sections
"$ML" report "$SRC/tests/fixtures/transfer-small.json" --out "$T/tr" --no-svg >/dev/null 2>&1
check "report: transfer only" bash -c "[ -s '$T/tr/accuracy.png' ] && [ ! -e '$T/tr/staircase.png' ] && grep -q 'Weight transfer' '$T/tr/index.html'"

# 2b. the default title names the model and the device; the page fits 1200 px: the body's
# max-width with its padding, every table in a scrolling box, images scaled to the column,
# long paths allowed to wrap (parsed from the page itself)
"$ML" report "$SRC/tests/fixtures/transfer-small.json" "$T"/demo/levels-*.json --out "$T/tt" --no-svg >/dev/null 2>&1
check "default title names model and device ($(grep -o '<h1>.*</h1>' "$T/tt/index.html"))" \
  grep -q "<h1>memlev report: resnet20.onnx on tio2x</h1>" "$T/tt/index.html"
check "<title> names model and device" grep -q "<title>memlev report: resnet20.onnx on tio2x</title>" "$T/tt/index.html"
cat >"$T/width.py" <<'PY'
import re, sys
from html.parser import HTMLParser
page = open(sys.argv[1]).read()
css = dict((m.group(1).strip(), m.group(2)) for m in re.finditer(r"([^{}]+)\{([^}]*)\}", re.search(r"<style>(.*?)</style>", page, re.S).group(1)))
def px(rule, prop):
    m = re.search(prop + r":\s*([0-9.]+)px", css.get(rule, ""))
    return float(m.group(1)) if m else None
def pad(rule):
    m = re.search(r"padding:\s*([0-9.]+)(?:px)?\s+([0-9.]+)px", css.get(rule, ""))
    return 2 * float(m.group(2)) if m else 0
body = px("body", "max-width")
assert body is not None, "body has no max-width"
assert body + pad("body") <= 1200, f"body {body} px + padding {pad('body')} px is wider than 1200 px"
assert "max-width:100%" in css.get("figure img", "").replace(" ", ""), "images are not scaled to the column"
assert "overflow-wrap:anywhere" in css.get("code", "").replace(" ", ""), "long paths do not wrap"
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.stack = []; s.bad = []; s.tables = 0
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "table":
            s.tables += 1
            if not any(t == "div" and "wide" in (c or "").split() for t, c in s.stack): s.bad.append("table outside a scrolling box")
        for k in ("width", "style"):
            m = re.search(r"([0-9.]+)(px)?$", (a.get(k) or "").replace("width:", "")) if k == "width" else re.search(r"(?:^|;)\s*(?:min-)?width:\s*([0-9.]+)px", a.get(k) or "")
            if m and float(m.group(1)) > 1200: s.bad.append(f"{tag} {k}={a.get(k)}")
        if tag not in ("img", "br", "meta", "hr", "input", "link"): s.stack.append((tag, a.get("class")))
    def handle_endtag(s, tag):
        while s.stack:
            if s.stack.pop()[0] == tag: break
p = P(); p.feed(page)
assert p.tables > 0, "no tables"
assert not p.bad, p.bad
PY
check "page fits 1200 px (HTML)" python3 "$T/width.py" "$T/tt/index.html"

# 3. bad input: exit 2, one line on stderr naming the file or field, no index.html
expect() { # expect WORD command...
  local word="$1"; shift
  rm -rf "$T/bad"
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$word" "$T/err" && [ ! -e "$T/bad/index.html" ]; then ok
  else bad "($rc) $* -> $(cat "$T/err")"; fi
}
L="$T/demo/levels-feedforward.json"
echo '{"states": 3,' >"$T/trunc.json"
echo '{"hello": 1}' >"$T/other.json"
python3 - "$L" "$T" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); t = sys.argv[2]
k = dict(j); del k["nonlinearity"]; json.dump(k, open(f"{t}/nonl.json", "w"))
k = json.loads(json.dumps(j)); k["staircase"]["g_p95_uS"] = k["staircase"]["g_p95_uS"][:-1]; json.dump(k, open(f"{t}/short.json", "w"))
k = json.loads(json.dumps(j)); k["staircase"]["step_uS"][3] = "x"; json.dump(k, open(f"{t}/str.json", "w"))
k = json.loads(json.dumps(j)); k["states"] = -1; json.dump(k, open(f"{t}/neg.json", "w"))
tr = {"baseline_accuracy": 0.9, "points": [{"scheme": "verify", "levels": 4, "accuracy_mean": 91, "accuracy_std": 0, "ci95": 0,
      "quantized_accuracy": 0.9, "pulses_per_device": 1, "devices": 1, "program_seconds": 0, "distinguishable": True}]}
json.dump(tr, open(f"{t}/pct.json", "w"))
tr["points"][0]["accuracy_mean"] = 0.9; tr["points"][0]["levels"] = 1; json.dump(tr, open(f"{t}/lev.json", "w"))
tr["points"][0]["levels"] = 4; del tr["points"][0]["distinguishable"]; json.dump(tr, open(f"{t}/dist.json", "w"))
PY
expect "at least one" "$ML" report --out "$T/bad"
expect "nosuch.json" "$ML" report "$T/nosuch.json" --out "$T/bad"
expect "trunc.json" "$ML" report "$T/trunc.json" --out "$T/bad"
expect "not a memlev result" "$ML" report "$T/other.json" --out "$T/bad"
expect "nonlinearity" "$ML" report "$T/nonl.json" --out "$T/bad"
expect "g_p95_uS" "$ML" report "$T/short.json" --out "$T/bad"
expect "step_uS\[3\]" "$ML" report "$T/str.json" --out "$T/bad"
expect "neg.json" "$ML" report "$T/neg.json" --out "$T/bad"
expect "accuracies" "$ML" report "$T/pct.json" --out "$T/bad"
expect "levels" "$ML" report "$T/lev.json" --out "$T/bad"
expect "distinguishable" "$ML" report "$T/dist.json" --out "$T/bad"
expect "width" "$ML" report "$L" --width 10 --out "$T/bad"
expect "no/such.*does not exist" "$ML" report "$L" --out "$T/no/such/dir"
# without PLplot's cairo driver: a clear error, not PLplot's interactive device prompt
expect "plplot-driver-cairo" env PLPLOT_DRV_DIR="$T/nodrivers" "$ML" report "$L" --out "$T/bad"
check "no partial plots left on error" bash -c "[ ! -e '$T/bad' ] || [ -z \"\$(ls -A '$T/bad')\" ]"

# 4. the page in headless Chromium: screenshot, expected headings, every image loads
CHROME=/usr/bin/chromium
if [ -x "$CHROME" ]; then
  cr() { timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$(mktemp -d -p "$T")" "$@" 2>>"$T/chromium.log"; }
  cr --screenshot="$T/shot.png" --window-size=1200,3000 "file://$T/rep/index.html" >/dev/null
  # laid out in a 1200 px window, nothing sticks out (a long device path in the tables too)
  python3 - "$SRC/tests/fixtures/transfer-small.json" "$T/long.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["config"]["device"] = "/" + "/".join(["a-rather-long-folder-name-for-devices"] * 8) + "/my-device.json"
json.dump(j, open(sys.argv[2], "w"))
PY
  "$ML" report "$T/long.json" "$T"/demo/levels-*.json --out "$T/tl" --no-svg >/dev/null 2>&1
  sed 's|</body>|<script>window.onload=function(){document.body.setAttribute("data-sw",document.documentElement.scrollWidth);}</script></body>|' \
    "$T/tl/index.html" >"$T/tl/check.html"
  cr --dump-dom --window-size=1200,3000 --virtual-time-budget=5000 "file://$T/tl/check.html" >"$T/dom-w.html"
  sw=$(grep -o 'data-sw="[0-9]*"' "$T/dom-w.html" | grep -o '[0-9]*')
  check "page laid out within 1200 px (scrollWidth ${sw:-none})" bash -c "[ -n '$sw' ] && [ '${sw:-9999}' -le 1200 ]"
  check "chromium screenshot" pngs_ok "$T/shot.png"
  check "screenshot not blank" [ "$(stat -c %s "$T/shot.png" 2>/dev/null || echo 0)" -gt 100000 ]
  [ -n "${ML_REPORT_SCREENSHOT:-}" ] && cp "$T/shot.png" "$ML_REPORT_SCREENSHOT"
  cr --dump-dom "file://$T/rep/index.html" >"$T/dom.html"
  for h in "Summary per scheme" "Staircases" "Distinguishable levels" "Programming cost" "Weight transfer" "Inputs"; do
    check "heading '$h'" grep -q "<h2[^>]*>$h" "$T/dom.html"
  done
  srcs=$(grep -o '<img src="[^"]*"' "$T/dom.html" | sed 's/.*src="//; s/"$//')
  check "images in the page" [ "$(echo "$srcs" | grep -c png)" -ge 8 ]
  for s in $srcs; do check "image $s exists and is a PNG" pngs_ok "$T/rep/$s"; done
  # the browser's own verdict: a copy of the page that marks images that failed to load
  sed 's|</body>|<script>window.onload=function(){var b=0,a=document.images;for(var i=0;i<a.length;i++)if(!a[i].complete\|\|a[i].naturalWidth==0)b++;document.body.setAttribute("data-broken",b+"/"+a.length);}</script></body>|' \
    "$T/rep/index.html" >"$T/rep/check.html"
  cr --dump-dom --virtual-time-budget=5000 "file://$T/rep/check.html" >"$T/dom2.html"
  check "no broken images ($(grep -o 'data-broken="[^"]*"' "$T/dom2.html"))" grep -Eq 'data-broken="0/[1-9][0-9]*"' "$T/dom2.html"
else
  echo "skip: $CHROME not installed (apt-get install chromium); browser checks not run"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
