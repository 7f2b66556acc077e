/* Private helpers shared by the ONNX importer and exporter: bounded file reading, a
 * nesting-depth check before protobuf-c unpacks, tensor decoding, attribute access and
 * a name -> index hash table. Not part of the public API. */
#ifndef MEMLEV_ONNX_PRIV_H
#define MEMLEV_ONNX_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include "memlev/error.h"
#include "memlev/nn.h"
#include "memlev/onnx.h"
#include "onnx.pb-c.h"

/* Limits that keep a malformed file from asking for absurd memory. */
#define MLX_MAX_FILE_BYTES ((size_t)1 << 31)  /* 2 GiB */
#define MLX_MAX_ELEMS ((int64_t)1 << 30)       /* per tensor */
#define MLX_MAX_RANK 8
#define MLX_MAX_DEPTH 32                       /* protobuf message nesting */

/* ONNX TensorProto.DataType values used here (onnx.proto). */
enum { MLX_DT_FLOAT = 1, MLX_DT_INT32 = 6, MLX_DT_INT64 = 7, MLX_DT_DOUBLE = 11 };

/* Read a whole file into *buf (malloc'd, caller frees). ML_EIO if unreadable,
 * ML_EFORMAT if empty or larger than MLX_MAX_FILE_BYTES. */
ml_status mlx_read_file(const char *path, uint8_t **buf, size_t *len, ml_error *err);

/* Walk the protobuf wire format of a message of type desc and check that every field is
 * well formed and message nesting stays under MLX_MAX_DEPTH (protobuf-c itself recurses
 * without a bound). Returns 0 if acceptable, -1 otherwise. */
int mlx_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len);

/* Number of elements of dims[0..rank), or -1 if a dim is negative or the product
 * exceeds MLX_MAX_ELEMS. */
int64_t mlx_numel(const int64_t *dims, size_t rank);

/* A decoded constant tensor: float data (int64 tensors are converted; ints keeps the
 * exact int64 values for shape tensors, NULL for float tensors). */
typedef struct mlx_const {
    int rank;
    int64_t dims[MLX_MAX_RANK];
    int64_t n;
    float *data;
    int64_t *ints;
} mlx_const;

/* Decode t into c (float, double, int32 or int64; raw_data or typed fields). On error
 * writes "what: reason" into err with code ML_EFORMAT (bad sizes, types) or
 * ML_EUNSUPP (external data, other types); 'what' names the file and tensor. */
ml_status mlx_const_decode(const Onnx__TensorProto *t, const char *what, mlx_const *c, ml_error *err);
void mlx_const_clear(mlx_const *c);

/* Attributes of a node. Each getter returns 1 if found with the right type, 0 if absent,
 * -1 if present with the wrong type or too many values. */
const Onnx__AttributeProto *mlx_attr(const Onnx__NodeProto *n, const char *name);
int mlx_attr_int(const Onnx__NodeProto *n, const char *name, int64_t *v);
int mlx_attr_float(const Onnx__NodeProto *n, const char *name, float *v);
int mlx_attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *v, int max, int *count);
int mlx_attr_floats(const Onnx__NodeProto *n, const char *name, float *v, int max, int *count);
int mlx_attr_string(const Onnx__NodeProto *n, const char *name, const char **s, size_t *len);

/* Open-addressing hash table of borrowed name strings -> int. */
typedef struct mlx_names {
    const char **key;
    int *val;
    size_t cap, count;
} mlx_names;

int mlx_names_init(mlx_names *h, size_t expected);          /* 0 or -1 (no memory) */
void mlx_names_free(mlx_names *h);
int mlx_names_get(const mlx_names *h, const char *name);     /* value, or -1 */
int mlx_names_put(mlx_names *h, const char *name, int val);  /* 0, -1 (no memory) */

/* Little-endian float32 <-> bytes, independent of host byte order. */
float mlx_le_f32(const uint8_t *p);
void mlx_put_le_f32(uint8_t *p, float v);

/* ---- import state shared by import.c and fold.c ---- */

/* MLX_V_PADDED: a zero Pad of the activation ti, merged into the consuming Conv or
 * AveragePool (PyTorch exports avg_pool2d and F.pad that way). */
enum { MLX_V_CONST = 1, MLX_V_TENSOR = 2, MLX_V_UNAVAILABLE = 3, MLX_V_PADDED = 4 };

/* What a name in the graph refers to. */
typedef struct mlx_value {
    int kind;
    int ci;   /* MLX_V_CONST: index into consts */
    int ti;   /* net tensor index, -1 until a node uses it (consts are added lazily) */
    int node; /* MLX_V_UNAVAILABLE: producing node */
    int pad[4]; /* MLX_V_PADDED: h_begin, w_begin, h_end, w_end */
} mlx_value;

typedef struct mlx_loader {
    const char *path;
    ml_error *err;             /* never NULL */
    Onnx__GraphProto *g;
    ml_net *net;
    mlx_names names;           /* name -> index into vals */
    mlx_value *vals;
    int nvals, capvals;
    mlx_const *consts;
    int nconsts, capconsts;
    int64_t opset;
    int input;                 /* net tensor index of the graph input */
    const ml_onnx_tensor *bind; /* ml_onnx_load_bound: values of the non-initializer inputs */
    int nbind, data_input;     /* their count and the position of the engine's input; nbind
                                  is -1 when nothing is bound (ml_onnx_load) */
} mlx_loader;

/* Set L->err to "path: message"; returns code. */
/* return the status of x when it is an error */
#define TRY(x) do { ml_status s_ = (x); if (s_) return s_; } while (0)
ml_status mlx_fail(mlx_loader *L, ml_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix the message already in L->err with the path; returns code. */
ml_status mlx_prefix(mlx_loader *L, ml_status code);
/* Register c (ownership taken, c cleared) as the constant value called name. */
ml_status mlx_add_const(mlx_loader *L, const char *name, mlx_const *c);
ml_status mlx_const_alloc(mlx_loader *L, mlx_const *r, int rank, const int64_t *dims, int ints);
/* Target dims of a Reshape; in == NULL checks the shape only (0 and -1 kept). */
ml_status mlx_reshape_dims(mlx_loader *L, const char *who, const int64_t *in, int inrank, int64_t n_in,
                           const mlx_const *shape, int64_t *out, int *outrank);
/* Fold an engine op whose inputs (value indices in[]) are all constants. */
ml_status mlx_fold_node(mlx_loader *L, const char *who, ml_op op, const Onnx__NodeProto *n, const int *in,
                        int nin, const char *outname);
ml_status mlx_constant_node(mlx_loader *L, const Onnx__NodeProto *n, const char *who);
/* pad.c: a zero H/W pad kept for merging, whose consumer is not a Conv or AveragePool, run as
 * a Pad node on value vi; and a Pad node imported (merged or run). */
ml_status mlx_unpad(mlx_loader *L, int vi, const char *name);
ml_status mlx_pad_node(mlx_loader *L, const Onnx__NodeProto *n, const char *who);
/* Shape arithmetic ops folded at import (Shape, Gather, Unsqueeze, Squeeze, Concat, Cast). */
int mlx_is_shape_op(const char *op_type);
ml_status mlx_fold_shape_op(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, int nin);
/* attrs.c: an integer attribute within [lo, hi] into *out (left as is when absent), and the
 * attributes of an engine op (Conv/pool windows, BatchNorm, Gemm, ...) into *a. */
ml_status mlx_attr_int_in(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *name,
                          int64_t lo, int64_t hi, int *out);
ml_status mlx_op_attrs(mlx_loader *L, const Onnx__NodeProto *n, const char *who, ml_op op, ml_attrs *a);
/* ndops.c: the N-D inference-only ops. mlx_nd_route: whether node n of op type s runs as
 * engine op *op although the importer folds it on constants (Concat, Transpose, Slice,
 * Squeeze/Unsqueeze as Reshape) on computed values; mlx_nd_nin: the input count range of
 * such an op; mlx_nd_attrs: their attributes; mlx_nd_inputs: constant inputs (Slice,
 * Resize, Reduce axes, Squeeze axes) into *a, leaving *nin data inputs and turning
 * Squeeze/Unsqueeze/Flatten into Reshape, single-input Max/Min and no-op reductions into
 * Identity. mlx_nd_split: Split as one Slice node per output. */
ml_status mlx_nd_split(mlx_loader *L, const Onnx__NodeProto *n, const char *who);
/* import.c: a new value called name of kind MLX_V_*; its index, or -1 (no memory) */
int mlx_new_value(mlx_loader *L, const char *name, int kind);
int mlx_nd_route(mlx_loader *L, const Onnx__NodeProto *n, const char *s, ml_op *op);
void mlx_nd_nin(const char *s, ml_op op, int64_t opset, int *lo, int *hi);
ml_status mlx_nd_attrs(mlx_loader *L, const Onnx__NodeProto *n, const char *who, ml_op op, const char *s,
                       ml_attrs *a);
ml_status mlx_nd_inputs(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *s, ml_op *op,
                        const int *vin, size_t *nin, ml_attrs *a);
/* Dims of the activation value vi with batch 1 (finalizes the net built so far). */
ml_status mlx_activation_dims(mlx_loader *L, int vi, int64_t *dims, int *rank);

#endif
