#!/bin/bash
# Every allocation of the library goes through the hook of src/core/alloc.h (ml__malloc,
# ml__calloc, ml__realloc, ml__aligned_alloc, ml__strdup, ml__free), so the out-of-memory
# tests can fail each one and count live blocks (docs/architecture.md "Allocation"). This
# fails on a raw call of the C library's allocator in any C file under src/ outside src/cli/
# (the program, not the library) and src/core/alloc.c (the hook itself). Comments and string
# literals are ignored. The check first proves itself on a planted file: two raw calls must be
# found there, and none of the hook's calls, comments or strings.
# Usage: cli_alloc_hook.sh [ignored] (ML_SOURCE_DIR: the tree; files after -- are checked
# instead of src/).
set -euo pipefail
: "${ML_SOURCE_DIR:?}"
python3 - "$ML_SOURCE_DIR" "$@" <<'PY'
import pathlib, re, sys
root = pathlib.Path(sys.argv[1])
args = sys.argv[2:]
if "--" in args:
    files = [pathlib.Path(f) for f in args[args.index("--") + 1:]]
else:
    files = sorted(p for p in (root / "src").rglob("*") if p.suffix in (".c", ".h", ".cc", ".cpp"))
    files = [p for p in files if "cli" not in p.relative_to(root / "src").parts[:1]
             and p != root / "src" / "core" / "alloc.c"]
raw = re.compile(r"(?<![\w.>])(malloc|calloc|realloc|free|strdup|strndup|aligned_alloc|posix_memalign|reallocarray)\s*\(")
# comments, then string and character literals (kept as blanks so line numbers stay)
strip = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
def scan(p):
    hits = []
    text = strip.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), p.read_text(errors="replace"))
    for n, line in enumerate(text.split("\n"), 1):
        m = raw.search(line)
        if m:
            hits.append(f"{p}:{n}: raw {m.group(1)}() outside the allocation hook (use ml__{m.group(1)} from core/alloc.h)")
    return hits

import tempfile
with tempfile.NamedTemporaryFile("w", suffix=".c") as t:
    t.write('/* free(x) in a comment */\nvoid f(void) {\n    char *p = malloc (4); // calloc(1, 2)\n'
            '    q = ml__malloc(4); ml__free(q); ops->free(q); puts("strdup(s)");\n    free(p);\n}\n')
    t.flush()
    planted = scan(pathlib.Path(t.name))
    if [h.split(":")[1] for h in planted] != ["3", "5"]:
        sys.exit(f"the check misses planted raw calls (found {planted})")
bad = 0
for p in files:
    for h in scan(p):
        print(h)
        bad += 1
print(f"{len(files)} files checked, {bad} raw allocator call(s)")
sys.exit(1 if bad else 0)
PY
