/* memlev export-conductances: program a network's devices and write G+ and G- of every
 * weight tensor, and the scale that turns them back into weights (w = (G+ - G-) / scale),
 * as safetensors (one file) or NumPy .npy files (a folder). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/common.h"
#include "memlev/onnx.h"
#include "memlev/tensorio.h"
#include "memlev/transfer.h"

#define NT 3 /* tensors written per weight tensor: G_plus, G_minus, scale */

static int ends_with(const char *s, const char *t)
{
    size_t a = strlen(s), b = strlen(t);
    return a >= b && !strcmp(s + a - b, t);
}

int ml_cmd_export_conductances(int argc, char **argv)
{
    const char *model = NULL, *device = "tio2x", *scheme = "feedforward", *mode = "pulse", *out = NULL;
    const char *calibrate = "device";
    long levels = 512, seed = 1, sample = 1000, threads = 0;
    int per_channel = 0;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "trained network (ONNX) (required)", 0},
        {"device", OPT_STR, &device, "device preset or JSON file [tio2x]", 0},
        {"scheme", OPT_STR, &scheme, "identical | ramp | verify | feedforward [feedforward]", 0},
        {"levels", OPT_INT, &levels, "programmable levels 2..65536 [512]", 0},
        {"mode", OPT_STR, &mode, "pulse | statistical [pulse]", 0},
        {"calibrate", OPT_STR, &calibrate, "device | population [device]", 0},
        {"per-channel", OPT_FLAG, &per_channel, "scale weights per output channel", 0},
        {"seed", OPT_INT, &seed, "random seed [1]", 0},
        {"sample-devices", OPT_INT, &sample, "devices measured for the level set [1000]", 0},
        {"threads", OPT_INT, &threads, "OpenMP threads [all cores]", 0},
        {"out", OPT_STR, &out, "FILE.safetensors, or a folder for one .npy per tensor (required)", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"export-conductances", "--model M.onnx --device D --scheme S [--levels N] --out FILE.safetensors|DIR",
                     "Program every weight's devices and write the conductances G+ and G- (siemens) and each layer's scale "
                     "(siemens per unit weight: w = (G+ - G-) / scale).", opts, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    const char *cmd = "export-conductances";
    if (!model) return cli_fail(cmd, "--model is required");
    if (!out) return cli_fail(cmd, "--out is required");
    if (cli_check_output(cmd, "out", out, ends_with(out, ".safetensors") ? CLI_OUT_FILE : CLI_OUT_DIR)) return 2;
    if (levels < 2 || levels > 65536) return cli_fail(cmd, "--levels: %ld is out of range (2..65536)", levels);
    if (seed < 0) return cli_fail(cmd, "--seed: must not be negative");
    if (sample < 8 || sample > 10000000) return cli_fail(cmd, "--sample-devices: %ld is out of range (8..1e7)", sample);
    ml_transfer_opts o = {ML_TRANSFER_PULSE, per_channel, 0, (uint64_t)seed};
    if (!strcmp(mode, "statistical")) o.mode = ML_TRANSFER_STATISTICAL;
    else if (strcmp(mode, "pulse")) return cli_fail(cmd, "--mode: '%s' must be pulse or statistical", mode);
    if (strcmp(calibrate, "device") && strcmp(calibrate, "population"))
        return cli_fail(cmd, "--calibrate: '%s' must be device or population", calibrate);
    ml_error err = {0};
    ml_scheme s;
    const ml_scheme_type *kind;
    if (ml_scheme_parse(scheme, &kind, &err)) return cli_fail(cmd, "--scheme: %s", err.msg);
    ml_scheme_defaults(&s, kind);
    s.calib_per_device = !strcmp(calibrate, "device");
    cli_set_threads(threads);
    ml_device dev;
    if (ml_device_load(device, &dev, &err)) return cli_fail_err(cmd, &err);
    ml_net *net = NULL;
    ml_levelset *ls = NULL;
    if (ml_onnx_load(model, &net, &err) ||
        ml_levelset_build(&dev, &s, (int)levels, (size_t)sample, (uint64_t)seed, &ls, &err)) {
        ml_net_free(net); ml_device_clear(&dev);
        return cli_fail_err(cmd, &err);
    }
    int nw = ml_net_weights(net, NULL, 0);
    int *idx = malloc((size_t)(nw > 0 ? nw : 1) * sizeof *idx);
    ml_tensor_out *t = calloc((size_t)(NT * nw + 1), sizeof *t);
    char **names = calloc((size_t)(NT * nw + 1), sizeof *names);
    if (!idx || !t || !names) { rc = cli_fail(cmd, "out of memory"); goto done; }
    ml_net_weights(net, idx, nw);
    uint64_t first = 0;
    for (int k = 0; k < nw && !rc; k++) {
        const ml_tensor *w = &net->tensors[idx[k]];
        size_t n = 1;
        for (int d = 0; d < w->ndim; d++) n *= (size_t)w->dims[d];
        double *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm);
        float *tmp = malloc(n * sizeof *tmp);
        size_t rows = w->ndim > 0 ? (size_t)w->dims[0] : 1;
        double *sc = malloc((per_channel ? rows : 1) * sizeof *sc);
        static const char *const part[NT] = {"G_plus", "G_minus", "scale"};
        for (int s2 = 0; s2 < NT; s2++) {
            size_t L = strlen(w->name) + 16;
            names[NT * k + s2] = malloc(L);
            if (names[NT * k + s2]) snprintf(names[NT * k + s2], L, "%s.%s", w->name, part[s2]);
        }
        if (!gp || !gm || !tmp || !sc || !names[NT * k] || !names[NT * k + 1] || !names[NT * k + 2]) {
            free(gp); free(gm); free(tmp); free(sc);
            rc = cli_fail(cmd, "out of memory");
            break;
        }
        if (ml_transfer_array(w->data, rows, n / rows, ls, &o, first, tmp, gp, gm, NULL, &err) ||
            ml_transfer_scales(w->data, rows, n / rows, ls, per_channel, sc, &err)) {
            free(gp); free(gm); free(tmp); free(sc);
            rc = cli_fail(cmd, "tensor '%s': %s", w->name, err.msg);
            break;
        }
        free(tmp);
        first += 2 * n;
        for (int s2 = 0; s2 < 2; s2++) {
            ml_tensor_out *e = &t[NT * k + s2];
            e->name = names[NT * k + s2];
            e->ndim = w->ndim;
            memcpy(e->dims, w->dims, sizeof e->dims);
            e->data = s2 ? gm : gp;
        }
        /* siemens per unit weight: one per layer, or one per output channel (--per-channel) */
        ml_tensor_out *e = &t[NT * k + 2];
        e->name = names[NT * k + 2];
        e->ndim = 1;
        e->dims[0] = per_channel ? (int64_t)rows : 1;
        e->data = sc;
    }
    if (!rc) {
        if (ends_with(out, ".safetensors")) {
            if (ml_safetensors_write(out, t, (size_t)NT * nw, &err)) rc = cli_fail_err(cmd, &err);
        } else {
            if (mkdir(out, 0777) && errno != EEXIST) rc = cli_fail(cmd, "%s: cannot create folder: %s", out, strerror(errno));
            for (int k = 0; k < NT * nw && !rc; k++) {
                char p[4096];
                snprintf(p, sizeof p, "%s/%s.npy", out, t[k].name);
                for (char *c = p + strlen(out) + 1; *c; c++)
                    if (*c == '/') *c = '_';
                if (ml_npy_write(p, &t[k], &err)) rc = cli_fail_err(cmd, &err);
            }
        }
    }
    if (!rc)
        printf("wrote G+, G- and the scale (w = (G+ - G-) / scale) of %d weight tensors (%llu devices) to %s\n", nw,
               (unsigned long long)first, out);
done:
    for (int k = 0; t && k < NT * nw; k++) free((void *)t[k].data);
    for (int k = 0; names && k < NT * nw; k++) free(names[k]);
    free(t); free(names); free(idx);
    ml_levelset_free(ls);
    ml_net_free(net);
    ml_device_clear(&dev);
    return rc;
}
