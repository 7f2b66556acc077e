/* ONNX helpers shared by import and export: bounded file reading, protobuf wire
 * validation, tensor decoding, attribute access, a name table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "nn/onnx/priv.h"

ml_status mlx_read_file(const char *path, uint8_t **buf, size_t *len, ml_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ml_error_set(err, ML_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = ml__malloc(cap);
    if (!b) {
        fclose(fp);
        return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= MLX_MAX_FILE_BYTES) {
                ml__free(b);
                fclose(fp);
                return ml_error_set(err, ML_EFORMAT, "%s: larger than %zu bytes", path, MLX_MAX_FILE_BYTES);
            }
            uint8_t *nb = ml__realloc(b, cap * 2);
            if (!nb) {
                ml__free(b);
                fclose(fp);
                return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        ml__free(b);
        return ml_error_set(err, ML_EIO, "%s: read error", path);
    }
    if (n == 0) {
        ml__free(b);
        return ml_error_set(err, ML_EFORMAT, "%s: empty file", path);
    }
    *buf = b;
    *len = n;
    return ML_OK;
}

static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end)
            return -1;
        uint8_t b = *p++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *v = r;
            return 0;
        }
    }
    return -1;
}

static int wire_check(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end, int depth)
{
    if (depth > MLX_MAX_DEPTH)
        return -1;
    while (p < end) {
        uint64_t key, v;
        if (get_varint(&p, end, &key))
            return -1;
        uint64_t field = key >> 3;
        if (field == 0 || field > 0x1fffffff)
            return -1;
        switch (key & 7) {
        case 0:
            if (get_varint(&p, end, &v))
                return -1;
            break;
        case 1:
            if (end - p < 8)
                return -1;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return -1;
            p += 4;
            break;
        case 2: {
            if (get_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return -1;
            const ProtobufCFieldDescriptor *f =
                d ? protobuf_c_message_descriptor_get_field(d, (unsigned)field) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                wire_check(f->descriptor, p, p + v, depth + 1))
                return -1;
            p += v;
            break;
        }
        default: /* groups (3, 4) are not used by onnx.proto */
            return -1;
        }
    }
    return 0;
}

int mlx_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len)
{
    return wire_check(desc, p, p + len, 0);
}

int64_t mlx_numel(const int64_t *dims, size_t rank)
{
    int64_t n = 1;
    for (size_t i = 0; i < rank; i++) {
        if (dims[i] < 0 || dims[i] > MLX_MAX_ELEMS)
            return -1;
        n *= dims[i];
        if (n > MLX_MAX_ELEMS)
            return -1;
    }
    return n;
}

float mlx_le_f32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void mlx_put_le_f32(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

static uint64_t le_u64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    return u;
}

void mlx_const_clear(mlx_const *c)
{
    ml__free(c->data);
    ml__free(c->ints);
    memset(c, 0, sizeof *c);
}

ml_status mlx_const_decode(const Onnx__TensorProto *t, const char *what, mlx_const *c, ml_error *err)
{
    memset(c, 0, sizeof *c);
    if (t->n_dims > MLX_MAX_RANK)
        return ml_error_set(err, ML_EUNSUPP, "%s: rank %zu exceeds %d", what, t->n_dims, MLX_MAX_RANK);
    int64_t n = mlx_numel(t->dims, t->n_dims);
    if (n < 0)
        return ml_error_set(err, ML_EFORMAT, "%s: negative or absurd dims", what);
    if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        t->n_external_data)
        return ml_error_set(err, ML_EUNSUPP, "%s: external tensor data is not supported", what);
    if (t->segment)
        return ml_error_set(err, ML_EUNSUPP, "%s: segmented tensors are not supported", what);
    if (!t->has_data_type)
        return ml_error_set(err, ML_EFORMAT, "%s: no data_type", what);
    int dt = t->data_type;
    size_t esz;
    size_t typed;
    switch (dt) {
    case MLX_DT_FLOAT: esz = 4; typed = t->n_float_data; break;
    case MLX_DT_INT32: esz = 4; typed = t->n_int32_data; break;
    case MLX_DT_INT64: esz = 8; typed = t->n_int64_data; break;
    case MLX_DT_DOUBLE: esz = 8; typed = t->n_double_data; break;
    default:
        return ml_error_set(err, ML_EUNSUPP, "%s: data_type %d is not supported (float, double, int32, int64 are)", what, dt);
    }
    int raw = t->has_raw_data && (t->raw_data.len > 0 || typed == 0);
    if (raw && t->raw_data.len != (size_t)n * esz)
        return ml_error_set(err, ML_EFORMAT, "%s: raw_data has %zu bytes, dims need %lld", what,
                            t->raw_data.len, (long long)n * (long long)esz);
    if (!raw && typed != (size_t)n)
        return ml_error_set(err, ML_EFORMAT, "%s: %zu values, dims need %lld", what, typed, (long long)n);
    c->rank = (int)t->n_dims;
    for (size_t i = 0; i < t->n_dims; i++)
        c->dims[i] = t->dims[i];
    c->n = n;
    c->data = ml__malloc(((size_t)n ? (size_t)n : 1) * sizeof(float));
    if (!c->data)
        return ml_error_set(err, ML_ENOMEM, "%s: out of memory", what);
    if (dt == MLX_DT_INT32 || dt == MLX_DT_INT64) {
        c->ints = ml__malloc(((size_t)n ? (size_t)n : 1) * sizeof(int64_t));
        if (!c->ints) {
            mlx_const_clear(c);
            return ml_error_set(err, ML_ENOMEM, "%s: out of memory", what);
        }
    }
    const uint8_t *rp = t->raw_data.data;
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case MLX_DT_FLOAT:
            c->data[i] = raw ? mlx_le_f32(rp + 4 * i) : t->float_data[i];
            break;
        case MLX_DT_DOUBLE: {
            double d;
            if (raw) {
                uint64_t u = le_u64(rp + 8 * i);
                memcpy(&d, &u, 8);
            } else {
                d = t->double_data[i];
            }
            c->data[i] = (float)d;
            break;
        }
        case MLX_DT_INT32: {
            int32_t v;
            if (raw) {
                uint32_t u = (uint32_t)rp[4 * i] | (uint32_t)rp[4 * i + 1] << 8 |
                             (uint32_t)rp[4 * i + 2] << 16 | (uint32_t)rp[4 * i + 3] << 24;
                memcpy(&v, &u, 4);
            } else {
                v = t->int32_data[i];
            }
            c->ints[i] = v;
            c->data[i] = (float)v;
            break;
        }
        default: {
            int64_t v;
            if (raw) {
                uint64_t u = le_u64(rp + 8 * i);
                memcpy(&v, &u, 8);
            } else {
                v = t->int64_data[i];
            }
            c->ints[i] = v;
            c->data[i] = (float)v;
            break;
        }
        }
    }
    return ML_OK;
}

const Onnx__AttributeProto *mlx_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++) {
        const Onnx__AttributeProto *a = n->attribute[i];
        if (a && a->name && strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

/* Old IR versions may omit AttributeProto.type; then the populated field decides. */
static int attr_is(const Onnx__AttributeProto *a, Onnx__AttributeProto__AttributeType t, int populated)
{
    return a->has_type ? a->type == t : populated;
}

int mlx_attr_int(const Onnx__NodeProto *n, const char *name, int64_t *v)
{
    const Onnx__AttributeProto *a = mlx_attr(n, name);
    if (!a)
        return 0;
    if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i))
        return -1;
    *v = a->i;
    return 1;
}

int mlx_attr_float(const Onnx__NodeProto *n, const char *name, float *v)
{
    const Onnx__AttributeProto *a = mlx_attr(n, name);
    if (!a)
        return 0;
    if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a->has_f))
        return -1;
    *v = a->f;
    return 1;
}

int mlx_attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *v, int max, int *count)
{
    const Onnx__AttributeProto *a = mlx_attr(n, name);
    if (!a)
        return 0;
    if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, a->n_ints > 0) || a->n_ints > (size_t)max)
        return -1;
    for (size_t i = 0; i < a->n_ints; i++)
        v[i] = a->ints[i];
    *count = (int)a->n_ints;
    return 1;
}

int mlx_attr_floats(const Onnx__NodeProto *n, const char *name, float *v, int max, int *count)
{
    const Onnx__AttributeProto *a = mlx_attr(n, name);
    if (!a)
        return 0;
    if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS, a->n_floats > 0) || a->n_floats > (size_t)max)
        return -1;
    for (size_t i = 0; i < a->n_floats; i++)
        v[i] = a->floats[i];
    *count = (int)a->n_floats;
    return 1;
}

int mlx_attr_string(const Onnx__NodeProto *n, const char *name, const char **s, size_t *len)
{
    const Onnx__AttributeProto *a = mlx_attr(n, name);
    if (!a)
        return 0;
    if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, a->has_s))
        return -1;
    *s = (const char *)a->s.data;
    *len = a->s.len;
    return 1;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

int mlx_names_init(mlx_names *h, size_t expected)
{
    memset(h, 0, sizeof *h);
    size_t cap = 16;
    while (cap < 2 * expected + 2)
        cap *= 2;
    h->key = ml__calloc(cap, sizeof *h->key);
    h->val = ml__calloc(cap, sizeof *h->val);
    if (!h->key || !h->val) {
        mlx_names_free(h);
        return -1;
    }
    h->cap = cap;
    return 0;
}

void mlx_names_free(mlx_names *h)
{
    ml__free(h->key);
    ml__free(h->val);
    memset(h, 0, sizeof *h);
}

int mlx_names_get(const mlx_names *h, const char *name)
{
    if (!h->cap || !name)
        return -1;
    for (size_t i = fnv1a(name) & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        if (!h->key[i])
            return -1;
        if (strcmp(h->key[i], name) == 0)
            return h->val[i];
    }
}

int mlx_names_put(mlx_names *h, const char *name, int val)
{
    if (2 * (h->count + 1) > h->cap) {
        mlx_names bigger;
        if (mlx_names_init(&bigger, h->cap))
            return -1;
        for (size_t i = 0; i < h->cap; i++)
            if (h->key[i])
                mlx_names_put(&bigger, h->key[i], h->val[i]);
        mlx_names_free(h);
        *h = bigger;
    }
    size_t i = fnv1a(name) & (h->cap - 1);
    while (h->key[i] && strcmp(h->key[i], name) != 0)
        i = (i + 1) & (h->cap - 1);
    if (!h->key[i])
        h->count++;
    h->key[i] = name;
    h->val[i] = val;
    return 0;
}
