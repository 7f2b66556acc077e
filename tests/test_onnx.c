/* ONNX import/export: PyTorch parity on the committed fixtures, export -> import round
 * trips, malformed and unsupported files, onnx.checker on exported models. */
#include <cblas.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "memlev/onnx.h"

static char g_tmpdir[1024];

static const char *srcdir(void)
{
    const char *s = getenv("ML_SOURCE_DIR");
    return s ? s : ".";
}

static void fixture(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/tests/fixtures/%s", srcdir(), name);
}

static void tmpfile_path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", g_tmpdir, name);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* One tensor of a .io file (see tests/fixtures/README.md). */
typedef struct io_tensor {
    int rank;
    uint32_t dims[8];
    size_t n;
    float *data;
} io_tensor;

static const uint8_t *read_io_tensor(const uint8_t *p, const uint8_t *end, io_tensor *t)
{
    assert_true(end - p >= 4);
    uint32_t r;
    memcpy(&r, p, 4);
    p += 4;
    assert_true(r >= 1 && r <= 8 && end - p >= 4 * (long)r);
    t->rank = (int)r;
    t->n = 1;
    for (uint32_t i = 0; i < r; i++) {
        memcpy(&t->dims[i], p, 4);
        p += 4;
        t->n *= t->dims[i];
    }
    assert_true((size_t)(end - p) >= 4 * t->n);
    t->data = malloc(4 * t->n);
    assert_non_null(t->data);
    memcpy(t->data, p, 4 * t->n);
    return p + 4 * t->n;
}

static void load_io(const char *name, io_tensor *x, io_tensor *y)
{
    char path[1200];
    fixture(path, sizeof path, name);
    size_t len;
    uint8_t *b = slurp(path, &len);
    const uint8_t *p = read_io_tensor(b, b + len, x);
    p = read_io_tensor(p, b + len, y);
    assert_true(p == b + len);
    free(b);
}

static ml_net *load_ok(const char *path)
{
    ml_net *net = NULL;
    ml_error err = {0};
    ml_status st = ml_onnx_load(path, &net, &err);
    if (st)
        fail_msg("%s", err.msg);
    assert_non_null(net);
    return net;
}

static float *forward(ml_net *net, const io_tensor *x)
{
    int batch = (int)x->dims[0];
    float *out = malloc(sizeof(float) * (size_t)batch * (size_t)net->classes);
    assert_non_null(out);
    ml_error err = {0};
    ml_status st = ml_net_forward(net, x->data, batch, out, &err);
    if (st)
        fail_msg("%s", err.msg);
    return out;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m))
            m = d; /* NaN propagates as a failure */
    }
    return m;
}

static void check_parity(const char *model, const char *io)
{
    char path[1200];
    fixture(path, sizeof path, model);
    io_tensor x, y;
    load_io(io, &x, &y);
    ml_net *net = load_ok(path);
    assert_int_equal(net->classes, (int)y.dims[1]);
    assert_int_equal(net->input_shape[1], x.dims[1]);
    float *out = forward(net, &x);
    double d = max_abs_diff(out, y.data, y.n);
    print_message("%s: max |memlev - PyTorch| = %.3g over %zu logits\n", model, d, y.n);
    assert_true(d <= 1e-4);
    free(out);
    free(x.data);
    free(y.data);
    ml_net_free(net);
}

static void resnet_fixture_logits_match_pytorch(void **state)
{
    check_parity("resnet_small.onnx", "resnet_small.io");
}

static void ops_fixture_logits_match_pytorch(void **state)
{
    check_parity("ops_small.onnx", "ops_small.io");
}

static void check_round_trip(const char *model, const char *io)
{
    char path[1200], out_path[1200];
    fixture(path, sizeof path, model);
    tmpfile_path(out_path, sizeof out_path, model);
    io_tensor x, y;
    load_io(io, &x, &y);
    ml_net *a = load_ok(path);
    ml_error err = {0};
    ml_status st = ml_onnx_save(a, out_path, &err);
    if (st)
        fail_msg("%s", err.msg);
    ml_net *b = load_ok(out_path);
    assert_int_equal(a->nnodes, b->nnodes);
    assert_int_equal(ml_net_num_params(a), ml_net_num_params(b));
    float *la = forward(a, &x), *lb = forward(b, &x);
    assert_memory_equal(la, lb, sizeof(float) * y.n);
    /* and a second export of the re-imported net is byte-identical to the first */
    char again[1300];
    snprintf(again, sizeof again, "%s.again", out_path);
    assert_int_equal(ml_onnx_save(b, again, &err), ML_OK);
    size_t n1, n2;
    uint8_t *f1 = slurp(out_path, &n1), *f2 = slurp(again, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);
    free(f1);
    free(f2);
    free(la);
    free(lb);
    free(x.data);
    free(y.data);
    ml_net_free(a);
    ml_net_free(b);
}

static void lenet_with_dynamic_batch_and_pads_matches_pytorch(void **state)
{
    check_parity("lenet_dynamic.onnx", "lenet_dynamic.io");
}

static void export_then_import_gives_identical_logits(void **state)
{
    check_round_trip("resnet_small.onnx", "resnet_small.io");
    check_round_trip("ops_small.onnx", "ops_small.io");
    check_round_trip("lenet_dynamic.onnx", "lenet_dynamic.io");
}

/* Logits of a batch equal those of its images run one at a time (batch axis symbolic). */
static void batch_size_does_not_change_logits(void **state)
{
    char path[1200];
    fixture(path, sizeof path, "lenet_dynamic.onnx");
    io_tensor x, y;
    load_io("lenet_dynamic.io", &x, &y);
    ml_net *net = load_ok(path);
    float *all = forward(net, &x);
    size_t item = x.n / x.dims[0];
    for (uint32_t i = 0; i < x.dims[0]; i++) {
        io_tensor one = x;
        one.dims[0] = 1;
        one.data = x.data + i * item;
        float *o = forward(net, &one);
        assert_true(max_abs_diff(o, all + i * (size_t)net->classes, (size_t)net->classes) <= 1e-5);
        free(o);
    }
    free(all);
    free(x.data);
    free(y.data);
    ml_net_free(net);
}

/* A failed load leaves *out untouched and names the file at the start of the message. */
static ml_status load_fails(const char *path, ml_error *err)
{
    ml_net *net = (ml_net *)(uintptr_t)0x1;
    memset(err, 0, sizeof *err);
    ml_status st = ml_onnx_load(path, &net, err);
    assert_int_not_equal(st, ML_OK);
    assert_ptr_equal(net, (ml_net *)(uintptr_t)0x1);
    assert_int_equal(strncmp(err->msg, path, strlen(path)), 0);
    assert_null(strchr(err->msg, '\n'));
    return st;
}

static void truncated_fixture_is_format_error(void **state)
{
    char path[1200], cut[1200];
    fixture(path, sizeof path, "resnet_small.onnx");
    tmpfile_path(cut, sizeof cut, "truncated.onnx");
    size_t len;
    uint8_t *b = slurp(path, &len);
    size_t step = len / 61 + 1;
    for (size_t n = 1; n < len; n += step) {
        spit(cut, b, n);
        ml_error err;
        assert_int_equal(load_fails(cut, &err), ML_EFORMAT);
    }
    spit(cut, b, len - 1);
    ml_error err;
    assert_int_equal(load_fails(cut, &err), ML_EFORMAT);
    spit(cut, b, 0);
    assert_int_equal(load_fails(cut, &err), ML_EFORMAT);
    free(b);
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void random_bytes_are_rejected(void **state)
{
    char path[1200];
    tmpfile_path(path, sizeof path, "random.onnx");
    uint64_t s = 42;
    uint8_t buf[4096];
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 1 + splitmix(&s) % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)splitmix(&s);
        spit(path, buf, n);
        ml_error err;
        ml_status st = load_fails(path, &err);
        assert_true(st == ML_EFORMAT || st == ML_EUNSUPP);
    }
}

/* Mutated copies of a valid model may load or fail, but never crash or leak (ASan). */
static void mutated_fixture_never_crashes(void **state)
{
    char path[1200], mut[1200];
    fixture(path, sizeof path, "ops_small.onnx");
    tmpfile_path(mut, sizeof mut, "mutated.onnx");
    size_t len;
    uint8_t *b = slurp(path, &len);
    uint8_t *m = malloc(len);
    assert_non_null(m);
    uint64_t s = 7;
    int loaded = 0;
    for (int trial = 0; trial < 300; trial++) {
        memcpy(m, b, len);
        int k = 1 + (int)(splitmix(&s) % 4);
        for (int j = 0; j < k; j++)
            m[splitmix(&s) % len] = (uint8_t)splitmix(&s);
        spit(mut, m, len);
        ml_net *net = NULL;
        ml_error err = {0};
        if (ml_onnx_load(mut, &net, &err) == ML_OK) {
            loaded++;
            ml_net_free(net);
        } else {
            assert_true(err.code == ML_EFORMAT || err.code == ML_EUNSUPP);
        }
    }
    print_message("mutations: %d of 300 still load\n", loaded);
    free(m);
    free(b);
}

/* protobuf-c recurses once per nested message: a file nesting Graph -> Node -> Attribute
 * -> Graph ... 30,000 deep must be refused before it can exhaust the stack. */
static void deeply_nested_message_is_rejected(void **state)
{
    const size_t wraps = 3 * 30000;
    size_t cap = wraps * 6 + 64, pos = cap;
    uint8_t *b = malloc(cap);
    assert_non_null(b);
    static const uint8_t tags[3] = {0x32 /* Attribute.g */, 0x2a /* Node.attribute */, 0x0a /* Graph.node */};
    for (size_t i = 0; i <= wraps; i++) {
        uint8_t v[10];
        size_t len = cap - pos;
        int nv = 0;
        do {
            v[nv++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
            len >>= 7;
        } while (len);
        pos -= (size_t)nv;
        memcpy(b + pos, v, (size_t)nv);
        b[--pos] = i == wraps ? 0x3a /* Model.graph */ : tags[i % 3];
    }
    char path[1200];
    tmpfile_path(path, sizeof path, "nested.onnx");
    spit(path, b + pos, cap - pos);
    ml_error err;
    assert_int_equal(load_fails(path, &err), ML_EFORMAT);
    free(b);
}

static void unsupported_op_names_node_and_op(void **state)
{
    char path[1200];
    fixture(path, sizeof path, "bad_unsupported_op.onnx");
    ml_error err;
    assert_int_equal(load_fails(path, &err), ML_EUNSUPP);
    assert_non_null(strstr(err.msg, "node 'squash': unsupported op 'Det'"));
}

static void malformed_fixtures_are_format_errors(void **state)
{
    static const char *bad[][2] = {
        {"bad_missing_input.onnx", "'nowhere'"},
        {"bad_raw_size.onnx", "raw_data"},
        {"bad_huge_dims.onnx", "dims"},
        {"bad_int_weight.onnx", "integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[1200];
        fixture(path, sizeof path, bad[i][0]);
        ml_error err;
        assert_int_equal(load_fails(path, &err), ML_EFORMAT);
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("%s: message lacks %s: %s", bad[i][0], bad[i][1], err.msg);
    }
}

static void missing_file_is_io_error(void **state)
{
    ml_error err;
    assert_int_equal(load_fails("/nonexistent/model.onnx", &err), ML_EIO);
}

static void save_to_unwritable_path_fails_without_output(void **state)
{
    char path[1200];
    fixture(path, sizeof path, "ops_small.onnx");
    ml_net *net = load_ok(path);
    ml_error err = {0};
    assert_int_equal(ml_onnx_save(net, "/nonexistent/dir/out.onnx", &err), ML_EIO);
    assert_int_not_equal(access("/nonexistent/dir/out.onnx", F_OK), 0);
    ml_net_free(net);
}

/* python3 with the onnx and numpy packages, or NULL. */
static const char *python_with_onnx(void)
{
    static const char *cands[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < 2; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import onnx, numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0)
            return cands[i];
    }
    return NULL;
}

/* The python3 that checks exported files (test_onnx --checker only; NULL otherwise). */
static const char *g_py;

static void exported_models_pass_onnx_checker_and_match_pytorch_in_numpy(void **state)
{
    const char *py = g_py;
    assert_non_null(py);
    const char *models[] = {"resnet_small.onnx", "ops_small.onnx", "lenet_dynamic.onnx"};
    for (int i = 0; i < 3; i++) {
        char path[1200], out[1200], cmd[4000];
        fixture(path, sizeof path, models[i]);
        tmpfile_path(out, sizeof out, models[i]);
        ml_net *net = load_ok(path);
        ml_error err = {0};
        assert_int_equal(ml_onnx_save(net, out, &err), ML_OK);
        ml_net_free(net);
        snprintf(cmd, sizeof cmd,
                 "%s -c 'import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True);"
                 " assert m.opset_import[0].version == 13' '%s'", py, out);
        if (system(cmd) != 0)
            fail_msg("onnx.checker rejected %s", out);
        /* an independent numpy evaluation of the exported file reproduces PyTorch */
        char io[1200];
        fixture(io, sizeof io, models[i]);
        strcpy(strrchr(io, '.'), ".io");
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1 && %s '%s/tests/onnx_numpy_eval.py' '%s' '%s' 1e-4",
                 py, py, srcdir(), out, io);
        if (system(cmd) != 0)
            fail_msg("numpy evaluation of %s differs from PyTorch", out);
    }
}

/* Write x (n images of item floats) and y (n x classes) as a .io file. */
static void write_io(const char *path, const float *x, const uint32_t *xd, const float *y, uint32_t n, uint32_t classes)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint32_t r4 = 4, r2 = 2, yd[2] = {n, classes};
    size_t xn = (size_t)xd[0] * xd[1] * xd[2] * xd[3];
    assert_int_equal(fwrite(&r4, 4, 1, fp), 1);
    assert_int_equal(fwrite(xd, 4, 4, fp), 4);
    assert_int_equal(fwrite(x, 4, xn, fp), xn);
    assert_int_equal(fwrite(&r2, 4, 1, fp), 1);
    assert_int_equal(fwrite(yd, 4, 2, fp), 2);
    assert_int_equal(fwrite(y, 4, (size_t)n * classes, fp), (size_t)n * classes);
    assert_int_equal(fclose(fp), 0);
}

/* Built-in architectures (BN with non-trivial running statistics) export, re-import to
 * identical logits, pass onnx.checker and evaluate in numpy to memlev's logits. */
static void builtin_architectures_export_faithfully(void **state)
{
    const char *archs[] = {"mlp", "lenet5", "resnet20"};
    const char *py = g_py; /* python checks in the test_onnx_checker run */
    for (int a = 0; a < 3; a++) {
        ml_net *net = NULL;
        ml_error err = {0};
        assert_int_equal(ml_arch_build(archs[a], 1, 28, 10, 0, 3, &net, &err), ML_OK);
        uint64_t s = 11;
        for (int i = 0; i < net->ntensors; i++) {
            ml_tensor *t = &net->tensors[i];
            if (!(t->flags & ML_TENSOR_STAT) || !t->data)
                continue;
            size_t n = 1;
            for (int d = 0; d < t->ndim; d++)
                n *= (size_t)t->dims[d];
            /* running statistics as after training: means near 0, variances near 1 (a
             * uniform positive shift of every mean would switch the ReLUs off) */
            for (size_t k = 0; k < n; k++) {
                float u = (float)(splitmix(&s) % 1000) / 1000.0f;
                if (strstr(t->name, "var"))
                    t->data[k] *= 0.7f + 0.6f * u;
                else
                    t->data[k] += 0.1f * (u - 0.5f);
            }
        }
        uint32_t xd[4] = {3, 1, 28, 28};
        float x[3 * 28 * 28];
        for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
            x[i] = (float)(splitmix(&s) % 1000) / 1000.0f;
        float *y1 = malloc(3 * sizeof(float) * (size_t)net->classes), *y2 = malloc(3 * sizeof(float) * (size_t)net->classes);
        assert_non_null(y1);
        assert_non_null(y2);
        assert_int_equal(ml_net_forward(net, x, 3, y1, &err), ML_OK);
        float spread = 0;
        for (int i = 1; i < 3 * net->classes; i++)
            spread = fmaxf(spread, fabsf(y1[i] - y1[0]));
        print_message("%s: logits spread %.3g\n", archs[a], spread);
        assert_true(spread > 1e-3f); /* a degenerate (constant) output would prove nothing */
        char path[1200], io[1300];
        tmpfile_path(path, sizeof path, archs[a]);
        strcat(path, ".onnx");
        if (ml_onnx_save(net, path, &err))
            fail_msg("%s", err.msg);
        ml_net *back = load_ok(path);
        assert_int_equal(ml_net_num_params(back), ml_net_num_params(net));
        assert_int_equal(ml_net_forward(back, x, 3, y2, &err), ML_OK);
        assert_memory_equal(y1, y2, 3 * sizeof(float) * (size_t)net->classes);
        if (py) {
            snprintf(io, sizeof io, "%s.io", path);
            write_io(io, x, xd, y1, 3, (uint32_t)net->classes);
            char cmd[4000];
            snprintf(cmd, sizeof cmd,
                     "%s -c 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)' '%s' && "
                     "%s -c 'import numpy' >/dev/null 2>&1 && %s '%s/tests/onnx_numpy_eval.py' '%s' '%s' 1e-4",
                     py, path, py, py, srcdir(), path, io);
            if (system(cmd) != 0)
                fail_msg("%s: exported model rejected by onnx.checker or differs in numpy", archs[a]);
        }
        free(y1);
        free(y2);
        ml_net_free(back);
        ml_net_free(net);
    }
}

static int setup(void **state)
{
    const char *base = getenv("ML_BINARY_DIR");
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/test_onnx.XXXXXX", base ? base : "/tmp");
    return mkdtemp(g_tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* test_onnx: everything memlev checks on its own. test_onnx --checker: the exported files
 * through onnx.checker and an independent numpy evaluation; exits 77 (ctest SKIP) when
 * python3-onnx or python3-numpy is missing, or fails when CI=true (CI installs both). */
int main(int argc, char **argv)
{
    openblas_set_num_threads(1); /* one BLAS thread per call: the layer kernels split batches across OpenMP threads */
    if (argc > 1 && !strcmp(argv[1], "--checker")) {
        g_py = python_with_onnx();
        if (!g_py) {
            const char *ci = getenv("CI");
            if (ci && !strcmp(ci, "true")) {
                fprintf(stderr, "test_onnx --checker: CI=true but python3 lacks onnx or numpy "
                                "(apt-get install python3-onnx python3-numpy)\n");
                return 1;
            }
            printf("SKIP: python3 lacks onnx or numpy (apt-get install python3-onnx python3-numpy)\n");
            return 77;
        }
        const struct CMUnitTest checker[] = {
            cmocka_unit_test(exported_models_pass_onnx_checker_and_match_pytorch_in_numpy),
            cmocka_unit_test(builtin_architectures_export_faithfully),
        };
        return cmocka_run_group_tests(checker, setup, teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resnet_fixture_logits_match_pytorch),
        cmocka_unit_test(ops_fixture_logits_match_pytorch),
        cmocka_unit_test(lenet_with_dynamic_batch_and_pads_matches_pytorch),
        cmocka_unit_test(export_then_import_gives_identical_logits),
        cmocka_unit_test(batch_size_does_not_change_logits),
        cmocka_unit_test(truncated_fixture_is_format_error),
        cmocka_unit_test(random_bytes_are_rejected),
        cmocka_unit_test(mutated_fixture_never_crashes),
        cmocka_unit_test(deeply_nested_message_is_rejected),
        cmocka_unit_test(unsupported_op_names_node_and_op),
        cmocka_unit_test(malformed_fixtures_are_format_errors),
        cmocka_unit_test(missing_file_is_io_error),
        cmocka_unit_test(save_to_unwritable_path_fails_without_output),
        cmocka_unit_test(builtin_architectures_export_faithfully),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
