/* memlev onnx-test: run one case of ONNX's backend test suite (a folder holding
 * model.onnx and test_data_set_N/input_N.pb, output_N.pb) and compare the outputs.
 * Exit 0: every output matches (|y - ref| <= atol + rtol |ref|), 1: a mismatch,
 * 2: the model uses something memlev does not run, or the case is malformed. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/common.h"
#include "memlev/nn.h"
#include "memlev/onnx.h"

#define MAX_IO 64
#define MAX_SETS 64

typedef struct { ml_onnx_tensor in[MAX_IO], out[MAX_IO]; int nin, nout; } data_set;

static void set_clear(data_set *s)
{
    for (int i = 0; i < s->nin; i++) ml_onnx_tensor_clear(&s->in[i]);
    for (int i = 0; i < s->nout; i++) ml_onnx_tensor_clear(&s->out[i]);
    s->nin = s->nout = 0;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Outcome of one case: 0 match, 1 mismatch, 2 unsupported or malformed; msg says why. */
typedef struct { int code; char msg[1400]; } outcome;

static int set_outcome(outcome *o, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_outcome(outcome *o, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof o->msg, fmt, ap);
    va_end(ap);
    return o->code = code;
}

/* Read input_0.pb.. and output_0.pb.. of one data set folder; 0 or 2. */
static int read_set(const char *dir, data_set *s, outcome *o)
{
    char path[4200];
    ml_error err = {0};
    for (int k = 0; k < 2; k++) {
        const char *kind = k ? "output" : "input";
        ml_onnx_tensor *t = k ? s->out : s->in;
        int *n = k ? &s->nout : &s->nin;
        for (;;) {
            if (snprintf(path, sizeof path, "%s/%s_%d.pb", dir, kind, *n) >= (int)sizeof path)
                return set_outcome(o, 2, "%s: path too long", dir);
            if (!exists(path))
                break;
            if (*n == MAX_IO)
                return set_outcome(o, 2, "%s: more than %d %ss", dir, MAX_IO, kind);
            if (ml_onnx_tensor_load(path, &t[*n], &err))
                return set_outcome(o, 2, "%s", err.msg);
            (*n)++;
        }
    }
    if (s->nin == 0 || s->nout == 0)
        return set_outcome(o, 2, "%s: no input_0.pb or output_0.pb", dir);
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Run the model on one data set. */
static int run_set(const char *model, const char *setdir, const data_set *s, const double *tol, outcome *o)
{
    ml_error err = {0};
    ml_net *net = NULL;
    if (ml_onnx_load_bound(model, s->in, s->nin, 0, &net, &err))
        return set_outcome(o, 2, "%s", err.msg);
    const ml_onnx_tensor *x = &s->in[0];
    size_t item = (size_t)(net->input_shape[1] * net->input_shape[2] * net->input_shape[3]);
    if (x->ndim < 1 || x->dims[0] < 1 || x->dims[0] > 65536 || (size_t)x->dims[0] * item != x->n) {
        ml_net_free(net);
        return set_outcome(o, 2, "%s/input_0.pb: shape does not match the model's input", setdir);
    }
    int batch = (int)x->dims[0];
    if (s->nout != 1) {
        ml_net_free(net);
        return set_outcome(o, 2, "%s: %d outputs (1 supported)", setdir, s->nout);
    }
    const ml_onnx_tensor *ref = &s->out[0];
    size_t n = (size_t)batch * (size_t)net->classes;
    float *y = malloc((n ? n : 1) * sizeof *y);
    if (!y) {
        ml_net_free(net);
        return set_outcome(o, 2, "out of memory");
    }
    o->code = 0;
    if (ml_net_forward(net, x->data, batch, y, &err)) {
        set_outcome(o, 2, "%s", err.msg);
    } else if (n != ref->n) {
        set_outcome(o, 1, "%s: output 0 ('%s') has %zu elements, expected %zu", setdir, ref->name, n, ref->n);
    } else {
        double worst = 0, wy = 0, wr = 0;
        size_t wi = 0;
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            double a = y[i], b = ref->data[i];
            if (isnan(a) && isnan(b))
                continue;
            double d = fabs(a - b), excess = d - (tol[1] + tol[0] * fabs(b));
            if (isnan(d) || excess > 0) {
                if (!bad || isnan(d) || d > worst) {
                    worst = isnan(d) ? INFINITY : d;
                    wi = i, wy = a, wr = b;
                }
                bad = 1;
            }
        }
        if (bad)
            set_outcome(o, 1, "%s: output 0 ('%s') mismatch: worst element %zu is %.9g, expected %.9g (|diff| %.3g)",
                        setdir, ref->name, wi, wy, wr, worst);
    }
    free(y);
    ml_net_free(net);
    return o->code;
}

/* One case folder: every data set must match. */
static int run_case(const char *dir, const double *tol, outcome *o)
{
    char model[4200];
    o->code = 0;
    o->msg[0] = 0;
    if (snprintf(model, sizeof model, "%s/model.onnx", dir) >= (int)sizeof model)
        return set_outcome(o, 2, "%s: path too long", dir);
    DIR *d = opendir(dir);
    if (!d) return set_outcome(o, 2, "%s: cannot open folder", dir);
    char *sets[MAX_SETS];
    int nsets = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nsets < MAX_SETS)
        if (!strncmp(e->d_name, "test_data_set_", 14) && (sets[nsets] = strdup(e->d_name)))
            nsets++;
    closedir(d);
    if (nsets == 0) return set_outcome(o, 2, "%s: no test_data_set_* folder", dir);
    qsort(sets, (size_t)nsets, sizeof *sets, by_name);
    for (int i = 0; i < nsets && o->code == 0; i++) {
        char setdir[4200];
        snprintf(setdir, sizeof setdir, "%s/%.200s", dir, sets[i]);
        data_set *s = calloc(1, sizeof *s);
        if (!s) {
            set_outcome(o, 2, "out of memory");
            break;
        }
        if (!read_set(setdir, s, o))
            run_set(model, setdir, s, tol, o);
        set_clear(s);
        free(s);
    }
    for (int i = 0; i < nsets; i++) free(sets[i]);
    if (o->code == 0) set_outcome(o, 0, "%s: %d data set%s match", dir, nsets, nsets == 1 ? "" : "s");
    return o->code;
}

int ml_cmd_onnx_test(int argc, char **argv)
{
    double tol[2] = {1e-4, 1e-5};
    cli_opt opts[] = {{"rtol", OPT_DBL, &tol[0], "relative tolerance (default 1e-4, ONNX's)", 0},
                      {"atol", OPT_DBL, &tol[1], "absolute tolerance (default 1e-5, ONNX's)", 0},
                      {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"onnx-test", "DIR [DIR...]   (ONNX backend test cases: DIR/model.onnx, DIR/test_data_set_*)",
                     "Run cases of ONNX's backend test suite. One case: exit 0 match, 1 mismatch, 2 unsupported. "
                     "Several: a line per case ('pass', 'MISMATCH' or 'unsupported', then the case), exit 1 on any mismatch.",
                     opts, 1 << 16};
    char **pos = malloc((size_t)(argc > 1 ? argc : 1) * sizeof *pos);
    if (!pos) return cli_fail("onnx-test", "out of memory");
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, pos, &npos);
    if (rc) {
        free(pos);
        return rc == 1 ? 0 : 2;
    }
    if (npos < 1) {
        free(pos);
        return cli_fail("onnx-test", "give a case folder (memlev onnx-test --help)");
    }
    if (!(tol[0] >= 0 && tol[0] < 1 && tol[1] >= 0 && tol[1] < 1)) {
        free(pos);
        return cli_fail("onnx-test", "--rtol and --atol must be in [0, 1)");
    }
    outcome o;
    if (npos == 1) {
        rc = run_case(pos[0], tol, &o);
        free(pos);
        if (rc == 2) return cli_fail("onnx-test", "%s", o.msg);
        printf("%s\n", o.msg);
        return rc;
    }
    int worst = 0;
    static const char *const word[3] = {"pass", "MISMATCH", "unsupported"};
    for (int i = 0; i < npos; i++) {
        int c = run_case(pos[i], tol, &o);
        printf("%s\t%s\t%s\n", word[c], pos[i], o.msg);
        fflush(stdout);
        if (c == 1) worst = 1;
    }
    free(pos);
    return worst;
}
