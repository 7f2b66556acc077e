# Shared by cli_sweep.sh and cli_sweep_mpi.sh (sourced, not a test): a small sweep config
# (trained MLP, 30 images, 2 devices x 2 schemes x 2 level counts, 1 trial) and a comparison
# of two sweep outputs with the timing key (wall_s) stripped.
SRC="$ML_SOURCE_DIR"
write_config() {
  cat > "$1" <<JSON
{"model": "$SRC/models/mlp-fmnist.onnx", "limit": 30, "devices": ["tio2x", "agsi"],
 "schemes": ["feedforward", "identical"], "levels": [2, 8], "trials": 1, "sample_devices": 16, "seed": 7}
JSON
}
# same_points A.json B.json: identical config and points apart from wall_s
same_points() {
  python3 - "$1" "$2" <<'PY'
import json, sys
def load(p):
    j = json.load(open(p))
    for q in j["points"]:
        q.pop("wall_s")
    return j
a, b = load(sys.argv[1]), load(sys.argv[2])
if a != b:
    sys.exit("differ: %s %s" % (sys.argv[1], sys.argv[2]))
PY
}
