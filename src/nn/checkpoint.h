/* Private interface of the training checkpoint (checkpoint.c) for the training loop. */
#ifndef MEMLEV_NN_CHECKPOINT_H
#define MEMLEV_NN_CHECKPOINT_H

#include "memlev/nn.h"

/* Where training stands: the epoch under way (0-based), the next batch in it, the sum of
 * its batch losses so far and the last validation accuracy (-1 if none). */
typedef struct ml_train_pos {
    int epoch;
    size_t batch;
    double loss_sum;
    double acc;
} ml_train_pos;

/* Write every tensor with data (weights, biases, BN scales and running statistics,
 * constants), the momentum buffers vel[t] (NULL for tensors without one), the options
 * that decide the result and pos to path atomically (temp file + rename). n: training
 * images used, nb: batches per epoch. */
ml_status ml__ckpt_save(const char *path, const ml_net *net, const ml_train_opts *o, size_t n, size_t nb,
                       float *const *vel, const ml_train_pos *pos, ml_error *err);

/* Read path back into net and vel (allocated as ml_net_train allocates them) and *pos.
 * Fails, changing nothing, when the file is not a checkpoint, is corrupt (checksum) or
 * was written for another model, data size or options; the message names the file and
 * the field that differs. */
ml_status ml__ckpt_load(const char *path, ml_net *net, const ml_train_opts *o, size_t n, size_t nb,
                       float **vel, ml_train_pos *pos, ml_error *err);

#endif
