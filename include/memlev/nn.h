/* Network engine: an ONNX-like operator graph (tensor table + nodes in topological
 * order) with NCHW float32 inference, training and built-in architectures.
 *
 * The graph maps one to one onto ONNX: a tensor is an initializer (data != NULL) or a
 * value computed by a node (data == NULL; buffers live in the engine's workspace), a
 * node is an ONNX node with its attributes decoded. Activation tensors keep dims[0] = 1
 * after ml_net_finalize: the batch size is chosen at each call.
 *
 * Thread safety: one call at a time per ml_net (inference and training use the net's
 * workspace); different nets may run concurrently (clone a net to run it in parallel).
 * The kernels split the batch across OpenMP threads; results do not depend on their
 * number, nor on the caller's OpenBLAS thread count (the engine's products run on
 * oneDNN's sgemm, one thread per fixed block of rows). */
#ifndef MEMLEV_NN_H
#define MEMLEV_NN_H

#include "memlev/api.h"
#include <stddef.h>
#include <stdint.h>
#include "memlev/api.h"
#include "memlev/error.h"
#include "memlev/data.h"
#include "memlev/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rank limit of engine tensors. Conv, pools, BatchNormalization's statistics and the
 * broadcasting binaries work on up to 4 dims; the shape ops (Transpose, Reshape, Concat,
 * Slice, Pad, Resize, reductions) and the element-wise unaries take up to 8 (shufflenet's
 * channel shuffle reshapes to 5). */
#define ML_MAX_DIMS 8
#define ML_MAX_INPUTS 5

/* Tensor flags. */
enum {
    ML_TENSOR_PARAM = 1,  /* stored in the model (ONNX initializer) */
    ML_TENSOR_WEIGHT = 2, /* Conv/Gemm/MatMul weight: the values devices will hold */
    ML_TENSOR_STAT = 4,   /* BN running mean/var: a parameter updated by averaging, not by gradient */
    ML_TENSOR_CONST = 8,  /* constant operand (e.g. a normalisation mean for Sub): never trained */
    ML_TENSOR_INPUT = 16  /* the graph input */
};

typedef struct ml_tensor {
    char *name;               /* owned, unique within the net */
    int ndim;                 /* 0..ML_MAX_DIMS (0: scalar) */
    int64_t dims[ML_MAX_DIMS];
    float *data;              /* owned; NCHW row-major; NULL for activations */
    float *grad;              /* owned; same size as data; allocated by training, else NULL */
    unsigned flags;           /* ML_TENSOR_* */
} ml_tensor;

typedef enum ml_op {
    ML_OP_CONV = 0,       /* in: X, W[M, C/group, kh, kw], optional B[M] */
    ML_OP_BATCHNORM,      /* in: X, scale[C], bias[C], mean[C], var[C] (epsilon, momentum) */
    ML_OP_RELU,
    ML_OP_MAXPOOL,        /* kernel, strides, pads, dilations (1 only), ceil_mode */
    ML_OP_AVGPOOL,        /* kernel, strides, pads, count_include_pad, ceil_mode */
    ML_OP_GLOBALAVGPOOL,
    ML_OP_ADD,            /* numpy broadcasting (either side), up to 4 dims */
    ML_OP_SUB,
    ML_OP_MUL,
    ML_OP_DIV,
    ML_OP_GEMM,           /* in: A[N,K] (transA = 0 only), B[K,M] or [M,K] (transB), optional C[M] or scalar; alpha, beta */
    ML_OP_MATMUL,         /* in: A[N,K], B[K,M] (B an initializer) */
    ML_OP_FLATTEN,        /* axis (default 1) */
    ML_OP_RESHAPE,        /* attrs.shape/nshape (ONNX: the constant 2nd input), 0 = copy dim, -1 = infer */
    ML_OP_IDENTITY,       /* also used for Dropout at inference */
    ML_OP_SIGMOID,        /* inference only (as the ops below) */
    ML_OP_LEAKYRELU,      /* alpha (ONNX default 0.01) */
    ML_OP_CLIP,           /* clip_min, clip_max (ONNX: attributes before opset 11, constant inputs after) */
    ML_OP_SOFTMAX,        /* axis (not the batch axis); softmax_flat: opset < 13, over axis.. flattened */
    /* Inference only, on up to ML_MAX_DIMS dims; none of them touches the batch axis 0
     * (nn/nd.h holds their kernels). Shape ops: */
    ML_OP_TRANSPOSE,      /* perm (perm[0] = 0) */
    ML_OP_CONCAT,         /* axis >= 1; 1..ML_MAX_INPUTS inputs */
    ML_OP_SLICE,          /* starts/ends/steps per axis (ONNX clamping); axis 0 whole */
    ML_OP_PAD,            /* padnd (begin per axis, then end), pad_mode, pad_value */
    ML_OP_RESIZE,         /* resize_* attrs, scales or sizes per axis (1 / as is on axis 0) */
    ML_OP_LOGSOFTMAX,     /* as Softmax, then log */
    ML_OP_GLOBALMAXPOOL,
    /* reductions over axes (naxes 0: every axis but the batch), keepdims */
    ML_OP_REDUCESUM, ML_OP_REDUCEMEAN, ML_OP_REDUCEMAX, ML_OP_REDUCEMIN, ML_OP_REDUCEPROD,
    ML_OP_REDUCEL1, ML_OP_REDUCEL2, ML_OP_REDUCELOGSUM, ML_OP_REDUCELOGSUMEXP, ML_OP_REDUCESUMSQUARE,
    /* broadcasting binaries (as Add; PRelu: in 1 is the slope) */
    ML_OP_POW, ML_OP_MAX, ML_OP_MIN, ML_OP_PRELU,
    /* element-wise unaries (alpha, beta, gamma as ONNX names them) */
    ML_OP_TANH, ML_OP_EXP, ML_OP_LOG, ML_OP_SQRT, ML_OP_NEG, ML_OP_ABS, ML_OP_RECIPROCAL,
    ML_OP_ERF, ML_OP_FLOOR, ML_OP_CEIL, ML_OP_ROUND, ML_OP_SIGN, ML_OP_SIN, ML_OP_COS, ML_OP_TAN,
    ML_OP_ASIN, ML_OP_ACOS, ML_OP_ATAN, ML_OP_SINH, ML_OP_COSH, ML_OP_ASINH, ML_OP_ACOSH,
    ML_OP_ATANH, ML_OP_SOFTPLUS, ML_OP_SOFTSIGN, ML_OP_ELU, ML_OP_SELU, ML_OP_CELU,
    ML_OP_HARDSIGMOID, ML_OP_HARDSWISH, ML_OP_THRESHOLDEDRELU, ML_OP_SHRINK,
    /* index of the largest / smallest entry along one axis (axes[0]), as a float */
    ML_OP_ARGMAX, ML_OP_ARGMIN,
    ML_OP_COUNT
} ml_op;

/* Decoded ONNX attributes; ml_attrs_default gives the ONNX defaults. */
typedef struct ml_attrs {
    int kernel[2];        /* kernel_shape (h, w); Conv: 0 = take from W */
    int strides[2];       /* default 1,1 */
    int pads[4];          /* ONNX order: h_begin, w_begin, h_end, w_end; default 0 */
    int dilations[2];     /* default 1,1 */
    int auto_pad;         /* Conv/pools: 0 = pads as given (NOTSET, VALID), 1 = SAME_UPPER, 2 = SAME_LOWER:
                           * ml_net_finalize then computes pads (output size ceil(in / stride)) */
    int group;            /* default 1 */
    int ceil_mode;        /* pools; default 0 */
    int count_include_pad;/* AveragePool; default 0 */
    float epsilon;        /* BN; default 1e-5 */
    float momentum;       /* BN; default 0.9 (ONNX: running = running*momentum + batch*(1-momentum)) */
    float alpha, beta;    /* Gemm; default 1, 1 */
    int transA, transB;   /* Gemm; default 0, 0 */
    int axis;             /* Flatten, Softmax; default 1 */
    int softmax_flat;     /* Softmax: 1 = opset < 13 semantics (dims from axis on as one); default 0 */
    float clip_min, clip_max; /* Clip; default -inf, +inf */
    int nshape;           /* Reshape: number of entries in shape (1..ML_MAX_DIMS) */
    int64_t shape[ML_MAX_DIMS];
    float gamma;          /* Selu (alpha, gamma); unaries use alpha/beta with ONNX's defaults */
    int perm[ML_MAX_DIMS];/* Transpose (nperm entries; 0: reverse, refused as it moves the batch) */
    int nperm;
    int naxes;            /* Reduce*: axes (0: all but the batch axis), keepdims (default 1) */
    int axes[ML_MAX_DIMS];
    int keepdims;
    int select_last;      /* ArgMax/ArgMin: the last of equal entries (default: the first) */
    int nslice;           /* Slice: per listed axis slice_axes[i], starts/ends/steps (ONNX) */
    int slice_axes[ML_MAX_DIMS];
    int64_t starts[ML_MAX_DIMS], ends[ML_MAX_DIMS], steps[ML_MAX_DIMS];
    int npadnd;           /* Pad: 2 * rank entries, begins then ends (ONNX order) */
    int64_t padnd[2 * ML_MAX_DIMS];
    int pad_mode;         /* 0 constant, 1 reflect, 2 edge */
    float pad_value;
    int resize_mode;      /* Resize: 0 nearest, 1 linear, 2 cubic */
    int resize_coord;     /* 0 half_pixel, 1 asymmetric, 2 align_corners, 3 pytorch_half_pixel,
                           * 4 tf_crop_and_resize, 5 tf_half_pixel_for_nn */
    int resize_nearest;   /* 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil */
    float cubic_a;        /* default -0.75 */
    int exclude_outside;
    float extrapolation;  /* tf_crop_and_resize: value outside the box */
    int nscales, nsizes;  /* one of them is the input's rank */
    float scales[ML_MAX_DIMS];
    int64_t sizes[ML_MAX_DIMS];
    float roi[2 * ML_MAX_DIMS];
} ml_attrs;

typedef struct ml_node {
    ml_op op;
    char *name;                 /* owned */
    int inputs[ML_MAX_INPUTS];  /* tensor indices; -1 for an absent optional input */
    int ninputs;
    int output;                 /* tensor index */
    ml_attrs attrs;
} ml_node;

struct ml_net_priv;             /* engine workspace and fusion plan (private) */

/* Which engines may run a net's convolutions (ml_net_set_conv). Each layer's engine is
 * chosen once, when the net is finalized. */
typedef enum ml_conv_choice {
    ML_CONV_AUTO = 0,   /* oneDNN for every ungrouped convolution, memlev's own kernels for
                         * the rest (the default) */
    ML_CONV_BUILTIN = 1 /* memlev's own kernels only: Winograd F(4x4,3x3) for 3x3, stride-1,
                         * pad-1 layers, im2col + sgemm for the others */
} ml_conv_choice;

/* Number format of a net's training convolutions (ml_net_set_precision). */
typedef enum ml_train_precision {
    ML_PRECISION_FP32 = 0, /* float32 throughout (the default) */
    ML_PRECISION_BF16 = 1  /* training convolutions (forward, input and weight gradients) read
                            * their inputs, weights and output gradients rounded to bfloat16
                            * and accumulate and write float32; weights, gradients, momentum,
                            * BN, ReLU, Add and inference stay float32 */
} ml_train_precision;

typedef struct ml_net {
    ml_tensor *tensors;
    int ntensors, cap_tensors;
    ml_node *nodes;             /* topological order */
    int nnodes, cap_nodes;
    int input;                  /* tensor index of the graph input (-1 until set) */
    int64_t input_shape[4];     /* N (1 after finalize), C, H, W (an input of more than 4 dims: W holds
                                 * the product of the dims from the fourth on) */
    int output;                 /* tensor index of the logits [N, classes] (-1 until set) */
    int classes;                /* set by finalize: size of the output's last dim */
    int finalized;
    char *name;                 /* owned, may be NULL (ONNX graph name) */
    ml_conv_choice conv;        /* read-only: set by ml_net_set_conv; kept by clone and finalize */
    ml_train_precision precision;     /* read-only: set by ml_net_set_precision; kept by clone and finalize */
    struct ml_net_priv *priv;
} ml_net;

/* ONNX op_type string of an op ("Conv", "BatchNormalization", ...); NULL if out of range. */
ML_API const char *ml_op_name(ml_op op);
/* Op for an ONNX op_type; returns 0 and sets *op, or -1 if unsupported. Dropout -> Identity. */
ML_API int ml_op_from_name(const char *onnx_name, ml_op *op);

ML_API void ml_attrs_default(ml_attrs *a);

/* Empty net (NULL on out of memory). Free with ml_net_free (accepts NULL). */
ML_API ml_net *ml_net_new(void);
ML_API void ml_net_free(ml_net *net);

/* Add a tensor; name is copied, data (if not NULL) is copied (product of dims floats).
 * flags: ML_TENSOR_*. Returns its index (>= 0), or -1 on a duplicate name, bad ndim or
 * allocation failure (err set). Tensors without data are activations or the input. */
ML_API int ml_net_add_tensor(ml_net *net, const char *name, int ndim, const int64_t *dims,
                      const float *data, unsigned flags, ml_error *err);
/* Index of the tensor with this name, or -1. */
ML_API int ml_net_find_tensor(const ml_net *net, const char *name);

/* Append a node (nodes must be added in topological order); attrs NULL = defaults.
 * inputs are copied; output is a tensor index. Returns the node index, or -1 (err set). */
ML_API int ml_net_add_node(ml_net *net, ml_op op, const char *name, const int *inputs, int ninputs,
                    int output, const ml_attrs *attrs, ml_error *err);

/* Declare the graph input (tensor with ndim 4, dims N,C,H,W; N is ignored) and output. */
ML_API void ml_net_set_io(ml_net *net, int input, int output);

/* Validate and infer shapes. Errors name the node: "node 'conv3' (Conv): weight has 3
 * channels, input has 1". ML_EFORMAT for inconsistent graphs, ML_EUNSUPP for valid but
 * unsupported attribute values. Must be called again after structural edits. Changing
 * tensor data (e.g. perturbing weights) needs no re-finalize. */
ML_API ml_status ml_net_finalize(ml_net *net, ml_error *err);

/* Inference (eval mode: BN uses running statistics, folded into the convolution output).
 * x: batch images NCHW matching input_shape; logits: batch * classes floats (caller's).
 * Thread count from OpenMP (omp_set_num_threads); results do not depend on it. */
ML_API ml_status ml_net_forward(ml_net *net, const float *x, int batch, float *logits, ml_error *err);

/* Indices of weight tensors (ML_TENSOR_WEIGHT) in tensor order; writes up to max into idx
 * (idx may be NULL) and returns how many there are. */
ML_API int ml_net_weights(const ml_net *net, int *idx, int max);

/* Deep copy (tensors, nodes, finalized state); NULL on out of memory. */
ML_API ml_net *ml_net_clone(const ml_net *net);

/* Number of trainable parameters (PARAM tensors that are neither STAT nor CONST). */
ML_API size_t ml_net_num_params(const ml_net *net);

/* Multiply-accumulates of one forward pass of one image (Conv, Gemm, MatMul). */
ML_API double ml_net_macs(const ml_net *net);
/* Choose the engines of the net's convolutions (ML_CONV_AUTO when never called): remembered
 * in net->conv, applied to each layer now if the net is finalized, else by ml_net_finalize.
 * Results of the two choices agree to rounding, not bit for bit. ML_EINVAL for a value that
 * is not an ml_conv_choice. Not while another call uses the net. */
ML_API ml_status ml_net_set_conv(ml_net *net, ml_conv_choice choice, ml_error *err);
/* Choose the number format of the net's training convolutions (ML_PRECISION_FP32 when never
 * called): remembered in net->precision and applied like ml_net_set_conv. ML_PRECISION_BF16
 * runs the layers that oneDNN runs (ML_CONV_AUTO) on oneDNN's bfloat16 kernels: native with
 * AVX512-BF16, emulated (slower, same numbers) on other AVX-512 CPUs; ML_EUNSUPP, net
 * unchanged, on a CPU without AVX-512 ("bf16 training needs AVX-512; oneDNN runs avx2
 * here"). Inference (ml_net_forward, ml_net_evaluate) stays float32. Results do not depend
 * on the thread count in either format. ML_EINVAL for a value that is not an ml_train_precision.
 * Not while another call uses the net. */
ML_API ml_status ml_net_set_precision(ml_net *net, ml_train_precision precision, ml_error *err);
/* The convolution engine of a finalized net in words: "oneDNN avx512_core" when oneDNN runs
 * any of its layers (on that instruction set), "builtin" when memlev's own kernels run them
 * all (im2col and Winograd on sgemm), "none" when it has no convolution. Static string. */
ML_API const char *ml_net_conv_engine(const ml_net *net);

/* Top-1 accuracy on the first limit images of ds (0 = all) with batch size batch.
 * images_per_s (may be NULL) gets the inference throughput. progress (may be NULL) is
 * called with label "inference" and images done of the total after every batch, with
 * progress_ctx. */
ML_API ml_status ml_net_evaluate(ml_net *net, const ml_dataset *ds, size_t limit, int batch,
                          ml_progress_fn progress, void *progress_ctx,
                          double *accuracy, double *images_per_s, ml_error *err);

/* Build a built-in architecture: "mlp", "lenet5", "resnet20" (CIFAR-style: 3x3 stem,
 * stages of 3 basic blocks, width 16/32/64 at width = 16), "resnet18", "resnet34"
 * (3x3 stride-1 stem, no max-pool, torchvision stage layout, widths w,2w,4w,8w; default
 * w = 64); "resnet18-s2"/"resnet34-s2" are the same with a stride-2 stem (stages at
 * half the resolution, a quarter of the compute). width <= 0 selects the default (mlp: 256 hidden units, lenet5: 6, resnet20:
 * 16, resnet18/34: 64). Kaiming-normal init (fan_out for conv, like torchvision) from
 * rng.h with the given seed; BN scale 1, bias 0. *out owned by the caller, finalized. */
ML_API ml_status ml_arch_build(const char *arch, int in_ch, int in_hw, int classes, int width,
                        uint64_t seed, ml_net **out, ml_error *err);

/* ---- training ---- */

/* Forward in training mode (BN on batch statistics; running averages updated when
 * update_stats is set) then backward of the mean softmax cross-entropy over the batch;
 * gradients are written (not accumulated) to every trainable tensor's grad (allocated
 * on first use). loss (may be NULL) gets the mean loss, correct (may be NULL) the number
 * of correct top-1 predictions. */
ML_API ml_status ml_net_loss_grad(ml_net *net, const float *x, const uint8_t *labels, int batch,
                           int update_stats, double *loss, int *correct, ml_error *err);

/* Called after every epoch; return non-zero to stop training. test_acc < 0 when no
 * validation set was given. */
typedef int (*ml_epoch_cb)(ml_net *net, int epoch, double train_loss, double test_acc, void *user);

typedef struct ml_train_opts {
    int epochs;             /* default 10 */
    int batch;              /* default 128 */
    double lr;              /* peak learning rate, default 0.1 */
    double momentum;        /* default 0.9 (Nesterov off) */
    double weight_decay;    /* default 5e-4, applied to weights only (not BN or biases) */
    double warmup_epochs;   /* linear warm-up before the cosine decay; default 0 */
    int augment_pad;        /* random crop padding in pixels; default 2; 0 disables */
    int augment_flip;       /* horizontal flip; default 1 */
    size_t limit;           /* use only the first limit training images (0 = all) */
    uint64_t seed;          /* shuffling and augmentation seed; default 1 */
    const ml_dataset *val;  /* evaluated after each epoch when not NULL */
    ml_epoch_cb on_epoch;   /* checkpoint hook, may be NULL */
    void *user;
    const char *checkpoint; /* resumable state file (see ml_checkpoint_info_read), NULL = none */
    double checkpoint_every_s; /* also save it mid-epoch when this many seconds have passed
                               * since the last save (0: after every batch); default 300 */
    int resume;             /* continue from checkpoint (which must exist and match) */
    ml_progress_fn progress; /* label "training", steps done of epochs x batches; may be NULL */
    void *progress_ctx;
    ml_train_precision precision; /* training convolutions' format (ml_net_set_precision), set for
                             * the run and restored after it; default ML_PRECISION_FP32 */
} ml_train_opts;

ML_API void ml_train_opts_default(ml_train_opts *o);

/* SGD with momentum and weight decay, cosine schedule from lr to 0 over all steps
 * (per step), seeded shuffling and augmentation. Reports through opts->progress.
 * final_acc (may be NULL) gets the last validation accuracy (or -1).
 * With opts->checkpoint set, the model's tensors, the momentum buffers, the options that
 * decide the result and the position (epoch, batch) are saved there atomically at the end
 * of every epoch and every checkpoint_every_s seconds; with opts->resume, training
 * continues from that file and ends with the same weights, bit for bit, as a run never
 * interrupted (same instruction set). A checkpoint that is corrupt or was written for
 * another model, data size or options gives ML_EFORMAT naming the file and field, with
 * net unchanged. */
ML_API ml_status ml_net_train(ml_net *net, const ml_dataset *train, const ml_train_opts *opts,
                       double *final_acc, ml_error *err);

/* Where a training checkpoint stands: epoch under way (0-based; epochs when training
 * finished) and the next batch within it, of batches per epoch. */
typedef struct ml_checkpoint_info {
    int epoch, epochs;
    size_t batch, batches;
} ml_checkpoint_info;

/* Read and verify (format, checksum) the checkpoint at path and fill *info. ML_EIO when it
 * cannot be read, ML_EFORMAT when it is not an intact checkpoint; messages name the file. */
ML_API ml_status ml_checkpoint_info_read(const char *path, ml_checkpoint_info *info, ml_error *err);

#ifdef __cplusplus
}
#endif
#endif
