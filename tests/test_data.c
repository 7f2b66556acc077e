/* Data readers: IDX (plain and gzip) and CIFAR-10 binary, their malformed-input errors,
 * and the seeded augmentation/shuffling. Fixtures are written by the tests themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>
#include "memlev/data.h"

static void tmp(char *out, size_t len, const char *name)
{
    snprintf(out, len, "/tmp/memlev_test_data_%d_%s", (int)getpid(), name);
}

static void spit(const char *path, const void *b, size_t len, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (len)
            assert_int_equal(gzwrite(f, b, (unsigned)len), (int)len);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(b, 1, len, f), len);
        fclose(f);
    }
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* n images of h x w with pixel (i, k) = (i * 7 + k) % 256, label i % 10. */
static size_t make_images(uint8_t *b, uint32_t magic, uint32_t n, uint32_t h, uint32_t w)
{
    be32(b, magic); be32(b + 4, n); be32(b + 8, h); be32(b + 12, w);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < h * w; k++)
            b[16 + i * h * w + k] = (uint8_t)((i * 7 + k) % 256);
    return 16 + (size_t)n * h * w;
}

static size_t make_labels(uint8_t *b, uint32_t magic, uint32_t n)
{
    be32(b, magic); be32(b + 4, n);
    for (uint32_t i = 0; i < n; i++)
        b[8 + i] = (uint8_t)(i % 10);
    return 8 + (size_t)n;
}

static void write_pair(const char *ip, const char *lp, int gz)
{
    uint8_t im[16 + 5 * 4 * 3], lb[8 + 5];
    spit(ip, im, make_images(im, 0x803, 5, 4, 3), gz);
    spit(lp, lb, make_labels(lb, 0x801, 5), gz);
}

static void check_small(const ml_dataset *ds)
{
    assert_int_equal(ds->n, 5);
    assert_int_equal(ds->c, 1);
    assert_int_equal(ds->h, 4);
    assert_int_equal(ds->w, 3);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ds->labels[i], i % 10);
        for (int k = 0; k < 12; k++)
            assert_float_equal(ds->images[i * 12 + k], ((i * 7 + k) % 256) / 255.0f, 1e-7);
    }
}

static void idx_plain_and_gzip_give_the_same_data(void **state)
{
    char ip[256], lp[256];
    for (int gz = 0; gz < 2; gz++) {
        tmp(ip, sizeof ip, gz ? "i.gz" : "i");
        tmp(lp, sizeof lp, gz ? "l.gz" : "l");
        write_pair(ip, lp, gz);
        ml_dataset *ds = NULL;
        ml_error err = {0};
        assert_int_equal(ml_idx_load(ip, lp, &ds, &err), ML_OK);
        check_small(ds);
        ml_dataset_free(ds);
        unlink(ip);
        unlink(lp);
    }
}

/* Load and expect a format error whose message names the offending file. */
static void expect_format_error(const uint8_t *im, size_t il, const uint8_t *lb, size_t ll, int bad_is_images)
{
    char ip[256], lp[256];
    tmp(ip, sizeof ip, "bad_i");
    tmp(lp, sizeof lp, "bad_l");
    spit(ip, im, il, 0);
    spit(lp, lb, ll, 1);
    ml_dataset *ds = (ml_dataset *)0x1;
    ml_error err = {0};
    assert_int_equal(ml_idx_load(ip, lp, &ds, &err), ML_EFORMAT);
    assert_ptr_equal(ds, (ml_dataset *)0x1); /* untouched on failure */
    assert_non_null(strstr(err.msg, bad_is_images ? ip : lp));
    assert_null(strchr(err.msg, '\n'));
    unlink(ip);
    unlink(lp);
}

static void idx_bad_magic_is_format_error(void **state)
{
    uint8_t im[16 + 5 * 12], lb[8 + 5];
    size_t il = make_images(im, 0x803, 5, 4, 3), ll = make_labels(lb, 0x801, 5);
    be32(im, 0x804); /* wrong type/rank */
    expect_format_error(im, il, lb, ll, 1);
    make_images(im, 0x803, 5, 4, 3);
    be32(lb, 0x803);
    expect_format_error(im, il, lb, ll, 0);
}

static void idx_truncated_files_are_format_errors(void **state)
{
    uint8_t im[16 + 5 * 12], lb[8 + 5];
    size_t il = make_images(im, 0x803, 5, 4, 3), ll = make_labels(lb, 0x801, 5);
    expect_format_error(im, il - 1, lb, ll, 1);  /* last pixel missing */
    expect_format_error(im, 10, lb, ll, 1);      /* header cut */
    expect_format_error(im, 0, lb, ll, 1);       /* empty */
    expect_format_error(im, il, lb, ll - 2, 0);  /* labels cut */
    expect_format_error(im, il, lb, 5, 0);       /* label header cut */
}

static void idx_huge_dimensions_are_rejected_not_allocated(void **state)
{
    uint8_t im[16 + 5 * 12], lb[8 + 5];
    size_t il = make_images(im, 0x803, 5, 4, 3), ll = make_labels(lb, 0x801, 5);
    be32(im + 4, 0xFFFFFFFFu); be32(im + 8, 0xFFFFFFFFu); be32(im + 12, 0xFFFFFFFFu); /* product overflows 64 bits */
    expect_format_error(im, il, lb, ll, 1);
    make_images(im, 0x803, 5, 4, 3);
    be32(im + 8, 0); /* zero-sized images */
    expect_format_error(im, il, lb, ll, 1);
    make_images(im, 0x803, 5, 4, 3);
    be32(lb + 4, 6); /* label count differs from image count */
    expect_format_error(im, il, lb, ll, 0);
}

static void idx_corrupt_gzip_is_format_error(void **state)
{
    char ip[256], lp[256];
    tmp(ip, sizeof ip, "cg_i.gz");
    tmp(lp, sizeof lp, "cg_l.gz");
    write_pair(ip, lp, 1);
    /* keep the gzip header, cut the deflate stream short */
    FILE *f = fopen(ip, "rb");
    uint8_t buf[512];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    spit(ip, buf, n > 24 ? 24 : n, 0);
    ml_dataset *ds = NULL;
    ml_error err = {0};
    ml_status s = ml_idx_load(ip, lp, &ds, &err);
    assert_int_equal(s, ML_EFORMAT);
    assert_null(ds);
    assert_non_null(strstr(err.msg, ip));
    unlink(ip);
    unlink(lp);
}

static void missing_files_are_io_errors(void **state)
{
    ml_dataset *ds = NULL;
    ml_error err = {0};
    assert_int_equal(ml_idx_load("/nonexistent/a", "/nonexistent/b", &ds, &err), ML_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/a"));
    assert_int_equal(ml_dataset_load("no-such-dataset-name", 1, &ds, &err), ML_EINVAL);
    assert_null(ds);
}

static void cifar_records_load_and_truncation_is_an_error(void **state)
{
    enum { REC = 3073 };
    uint8_t *b = malloc(2 * REC);
    assert_non_null(b);
    for (int r = 0; r < 2; r++) {
        b[r * REC] = (uint8_t)(r + 3);
        for (int k = 0; k < 3072; k++)
            b[r * REC + 1 + k] = (uint8_t)((k + r) % 256);
    }
    char p[256];
    tmp(p, sizeof p, "cifar.bin");
    spit(p, b, 2 * REC, 0);
    const char *paths[1] = {p};
    ml_dataset *ds = NULL;
    ml_error err = {0};
    assert_int_equal(ml_cifar_load(paths, 1, &ds, &err), ML_OK);
    assert_int_equal(ds->n, 2);
    assert_int_equal(ds->c, 3);
    assert_int_equal(ds->h, 32);
    assert_int_equal(ds->w, 32);
    assert_int_equal(ds->labels[1], 4);
    assert_float_equal(ds->images[3072 + 5], 6 / 255.0f, 1e-7);
    ml_dataset_free(ds);
    ds = NULL;
    spit(p, b, 2 * REC - 7, 0);
    assert_int_equal(ml_cifar_load(paths, 1, &ds, &err), ML_EFORMAT);
    assert_non_null(strstr(err.msg, p));
    assert_null(ds);
    b[0] = 200; /* label out of range */
    spit(p, b, REC, 0);
    assert_int_equal(ml_cifar_load(paths, 1, &ds, &err), ML_EFORMAT);
    assert_null(ds);
    unlink(p);
    free(b);
}

static void augment_without_pad_or_flip_is_identity(void **state)
{
    float src[2 * 5 * 4], dst[2 * 5 * 4];
    for (int i = 0; i < 40; i++)
        src[i] = (float)i;
    ml_augment(src, dst, 2, 5, 4, 0, 0, 1, 3, 0);
    assert_memory_equal(src, dst, sizeof src);
}

static void augment_is_a_pure_function_of_seed_index_epoch(void **state)
{
    float src[28 * 28], a[28 * 28], b[28 * 28];
    for (int i = 0; i < 28 * 28; i++)
        src[i] = (float)(i % 97) / 97.0f;
    int differ = 0;
    for (uint32_t e = 0; e < 20; e++) {
        ml_augment(src, a, 1, 28, 28, 2, 1, 42, 7, e);
        ml_augment(src, b, 1, 28, 28, 2, 1, 42, 7, e);
        assert_memory_equal(a, b, sizeof a);
        differ += memcmp(a, src, sizeof a) != 0;
        /* a shifted crop keeps the pixel values of the source (or zero fill) */
        for (int i = 0; i < 28 * 28; i++)
            assert_true(a[i] == 0.0f || (a[i] >= 0.0f && a[i] < 1.0f));
    }
    assert_true(differ >= 10); /* pad 2: 25 offsets x 2 flips, identity is rare */
}

static void augment_flip_mirrors_rows(void **state)
{
    /* with pad 0 the only change can be a flip; find an epoch that flips */
    float src[3 * 4], dst[3 * 4];
    for (int i = 0; i < 12; i++)
        src[i] = (float)i;
    int flips = 0;
    for (uint32_t e = 0; e < 64; e++) {
        ml_augment(src, dst, 1, 3, 4, 0, 1, 5, 1, e);
        if (memcmp(src, dst, sizeof src)) {
            flips++;
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 4; x++)
                    assert_float_equal(dst[y * 4 + x], src[y * 4 + 3 - x], 0);
        }
    }
    assert_true(flips > 16 && flips < 48); /* probability 1/2 */
}

static void shuffle_is_a_seeded_permutation(void **state)
{
    enum { N = 1000 };
    size_t a[N], b[N];
    int seen[N] = {0};
    ml_shuffle(a, N, 9, 3);
    ml_shuffle(b, N, 9, 3);
    assert_memory_equal(a, b, sizeof a);
    for (int i = 0; i < N; i++) {
        assert_true(a[i] < N);
        seen[a[i]]++;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    ml_shuffle(b, N, 9, 4);
    assert_true(memcmp(a, b, sizeof a) != 0);
}

static void fashion_mnist_loads_by_name_when_installed(void **state)
{
    if (access(ML_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz", R_OK)) {
        skip();
        return;
    }
    ml_dataset *ds = NULL;
    ml_error err = {0};
    assert_int_equal(ml_dataset_load("fashion-mnist", 0, &ds, &err), ML_OK);
    assert_int_equal(ds->n, 10000);
    assert_int_equal(ds->c, 1);
    assert_int_equal(ds->h, 28);
    assert_int_equal(ds->w, 28);
    assert_int_equal(ds->classes, 10);
    size_t count[10] = {0};
    for (size_t i = 0; i < ds->n; i++) {
        assert_true(ds->labels[i] < 10);
        count[ds->labels[i]]++;
    }
    for (int k = 0; k < 10; k++)
        assert_int_equal(count[k], 1000);
    for (size_t i = 0; i < ds->n * 784; i += 997)
        assert_true(ds->images[i] >= 0.0f && ds->images[i] <= 1.0f);
    ml_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idx_plain_and_gzip_give_the_same_data),
        cmocka_unit_test(idx_bad_magic_is_format_error),
        cmocka_unit_test(idx_truncated_files_are_format_errors),
        cmocka_unit_test(idx_huge_dimensions_are_rejected_not_allocated),
        cmocka_unit_test(idx_corrupt_gzip_is_format_error),
        cmocka_unit_test(missing_files_are_io_errors),
        cmocka_unit_test(cifar_records_load_and_truncation_is_an_error),
        cmocka_unit_test(augment_without_pad_or_flip_is_identity),
        cmocka_unit_test(augment_is_a_pure_function_of_seed_index_epoch),
        cmocka_unit_test(augment_flip_mirrors_rows),
        cmocka_unit_test(shuffle_is_a_seeded_permutation),
        cmocka_unit_test(fashion_mnist_loads_by_name_when_installed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
