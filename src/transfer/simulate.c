/* Program every weight's differential pair: w -> (G+, G-) with one device at the reset
 * level and the other at the level nearest |w| (per-layer or per-channel scale); program
 * pulse by pulse (or sample the level distributions), read back, and rebuild the weight.
 * Each device's draws are keyed by its global index, so results do not depend on threads. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/rng.h"
#include "memlev/transfer.h"
#include "memlev/util.h"

#define CHUNK 1024 /* weights per work item (2048 devices) */

/* nearest level index for a conductance difference x >= 0 (mag ascending) */
static int nearest_level(const double *mag, int n, double x)
{
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (mag[mid] <= x) lo = mid; else hi = mid;
    }
    return fabs(mag[hi] - x) < fabs(x - mag[lo]) ? hi : lo;
}

static double sample_level(const ml_levelset *ls, int j, uint64_t seed, uint64_t dev)
{
    double u = ml_uniform(seed, dev, 0, ML_RNG_TRANSFER) * (ls->nsamp - 1);
    int k = (int)u;
    if (k >= ls->nsamp - 1) return ls->samples[(size_t)j * ls->nsamp + ls->nsamp - 1];
    const double *s = ls->samples + (size_t)j * ls->nsamp;
    return s[k] + (u - k) * (s[k + 1] - s[k]);
}

ml_status ml_transfer_array(const float *w, size_t rows, size_t cols, const ml_levelset *ls,
                            const ml_transfer_opts *o, uint64_t first, float *out, double *gp, double *gm,
                            ml_transfer_stats *st, ml_error *err)
{
    size_t n = rows * cols;
    if (rows == 0 || cols == 0) return ML_OK;
    if (o->mode == ML_TRANSFER_STATISTICAL && o->relax_time > 0)
        return ml_error_set(err, ML_EINVAL, "relaxation time needs --mode pulse");
    for (size_t q = 0; q < n; q++)
        if (!isfinite(w[q])) return ml_error_set(err, ML_EINVAL, "weight %zu is not finite (%g)", q, (double)w[q]);
    int nl = ls->n;
    double *mag = ml__malloc((size_t)nl * sizeof *mag);
    double *scale = ml__malloc((o->per_channel ? rows : 1) * sizeof *scale);
    size_t nchunks = (n + CHUNK - 1) / CHUNK;
    ml_cost *cs = ml__calloc(nchunks, sizeof *cs), *cc = ml__calloc(nchunks, sizeof *cc);
    int *bad = ml__calloc(nchunks, sizeof *bad);
    if (!mag || !scale || !cs || !cc || !bad) {
        ml__free(mag); ml__free(scale); ml__free(cs); ml__free(cc); ml__free(bad);
        return ml_error_set(err, ML_ENOMEM, "transfer: out of memory");
    }
    for (int j = 0; j < nl; j++) mag[j] = fmax(ls->mean[j] - ls->mean[0], j ? mag[j - 1] : 0);
    double range = mag[nl - 1];
    if (!(range > 0)) { ml__free(mag); ml__free(scale); ml__free(cs); ml__free(cc); ml__free(bad); return ml_error_set(err, ML_EINVAL, "transfer: the level set has no range"); }
    size_t ns = o->per_channel ? rows : 1;
    for (size_t r = 0; r < ns; r++) {
        double m = 0;
        size_t a = o->per_channel ? r * cols : 0, b = o->per_channel ? a + cols : n;
        for (size_t q = a; q < b; q++) m = fmax(m, fabs(w[q]));
        scale[r] = m > 0 ? range / m : 1; /* siemens per unit weight */
    }
    double t0 = ml_now();
    #pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < nchunks; c++) {
        size_t q0 = c * CHUNK, q1 = q0 + CHUNK < n ? q0 + CHUNK : n;
        ml_population *pop = NULL;
        if (o->mode == ML_TRANSFER_PULSE &&
            ml_population_new_at(&ls->dev, 2 * (q1 - q0), first + 2 * q0, o->seed, &pop, NULL)) { bad[c] = 1; continue; }
        ml_target tg = {0};
        if (pop) ml_target_population(&tg, pop);
        int *lev = ml__malloc(2 * (q1 - q0) * sizeof *lev);
        size_t *dev = pop ? ml__malloc(2 * (q1 - q0) * sizeof *dev) : NULL; /* device of each level */
        if (!lev || (pop && !dev)) { bad[c] = 1; ml__free(lev); ml__free(dev); ml_population_free(pop); continue; }
        for (size_t q = q0; q < q1; q++) {
            double sc = scale[o->per_channel ? q / cols : 0];
            int j = nearest_level(mag, nl, fabs(w[q]) * sc);
            /* staircase steps: level j is step j + level_offset */
            lev[2 * (q - q0)] = (w[q] > 0 ? j : 0) + ls->level_offset;
            lev[2 * (q - q0) + 1] = (w[q] < 0 ? j : 0) + ls->level_offset;
        }
        if (pop) {
            /* a plan for this chunk's devices from the level set's (its calibration shared or
             * repeated, as the scheme says), then every device programmed to its level; the
             * target may choose which device takes which level (dev) */
            ml_program_plan *pl = NULL;
            if (ml_program_plan_for(ls->plan, &tg, &cc[c], &pl, NULL) ||
                ml_program_plan_run_levels(pl, &tg, lev, dev, &cs[c], NULL))
                bad[c] = 1;
            ml_program_plan_free(pl);
            if (bad[c]) { ml__free(lev); ml__free(dev); ml_population_free(pop); continue; }
            if (ls->v && tg.ops->pulse_shared) /* the lockstep kernel books no train energy: */
                for (size_t i = 0; i < 2 * (q1 - q0); i++) { /* the measured model's at each level */
                    ml_cost e = {0};
                    ml_levelset_cost(ls, lev[i], &e);
                    cs[c].energy_j += e.energy_j;
                }
            if (o->relax_time > 0) ml_relax_all(pop, o->relax_time);
        }
        for (size_t q = q0; q < q1; q++) {
            double g[2];
            for (int s = 0; s < 2; s++) {
                size_t i = 2 * (q - q0) + s;
                if (o->mode == ML_TRANSFER_PULSE) g[s] = tg.ops->read(tg.ctx, dev[i], &cs[c]);
                else if (o->mode == ML_TRANSFER_STATISTICAL) g[s] = sample_level(ls, lev[i] - ls->level_offset, o->seed, first + 2 * q + s);
                else g[s] = ls->mean[lev[i] - ls->level_offset];
                if (o->mode != ML_TRANSFER_PULSE) { /* what programming would take: the measured model */
                    ml_cost_add(&cs[c], &ls->reset_cost);
                    ml_levelset_cost(ls, lev[i] - ls->level_offset, &cs[c]);
                }
            }
            out[q] = (float)((g[0] - g[1]) / scale[o->per_channel ? q / cols : 0]);
            if (gp) gp[q] = g[0];
            if (gm) gm[q] = g[1];
        }
        ml__free(lev);
        ml__free(dev);
        ml_population_free(pop);
    }
    int failed = 0;
    for (size_t c = 0; c < nchunks; c++) {
        failed |= bad[c];
        if (st) {
            st->pulses += cs[c].pulses; st->reads += cs[c].reads; st->energy_j += cs[c].energy_j;
            st->device_seconds += cs[c].time_s;
            double nd = o->mode != ML_TRANSFER_PULSE ? 2.0 * (c + 1 < nchunks ? CHUNK : n - c * CHUNK) : 0;
            st->calib_pulses += cc[c].pulses + ls->calib_pulses_per_device * nd;
            st->calib_reads += cc[c].reads + ls->calib_cost.reads * nd;
            st->calib_energy_j += cc[c].energy_j + ls->calib_cost.energy_j * nd;
            st->calib_seconds += cc[c].time_s + ls->calib_cost.time_s * nd;
            st->reset_pulses += cs[c].reset_pulses; st->reset_reads += cs[c].reset_reads;
            st->reset_energy_j += cs[c].reset_energy_j; st->reset_seconds += cs[c].reset_time_s;
        }
    }
    if (st) { st->devices += 2.0 * n; st->seconds += ml_now() - t0; }
    ml__free(mag); ml__free(scale); ml__free(cs); ml__free(cc); ml__free(bad);
    return failed ? ml_error_set(err, ML_ENOMEM, "transfer: out of memory programming devices") : ML_OK;
}

ml_status ml_transfer_net(const ml_net *src, ml_net *dst, const ml_levelset *ls, const ml_transfer_opts *o,
                          ml_transfer_stats *st, ml_error *err)
{
    int nw = ml_net_weights(src, NULL, 0);
    int *idx = ml__malloc((size_t)(nw > 0 ? nw : 1) * sizeof *idx);
    if (!idx) return ml_error_set(err, ML_ENOMEM, "transfer: out of memory");
    ml_net_weights(src, idx, nw);
    uint64_t first = 0;
    ml_status rc = ML_OK;
    for (int k = 0; k < nw && !rc; k++) {
        const ml_tensor *t = &src->tensors[idx[k]];
        size_t n = 1;
        for (int d = 0; d < t->ndim; d++) n *= (size_t)t->dims[d];
        size_t rows = t->ndim > 0 ? (size_t)t->dims[0] : 1;
        rc = ml_transfer_array(t->data, rows, n / rows, ls, o, first, dst->tensors[idx[k]].data, NULL, NULL, st, err);
        if (rc) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err ? err->msg : "");
            ml_error_set(err, rc, "tensor '%s': %s", t->name, m);
        }
        first += 2 * n;
    }
    ml__free(idx);
    return rc;
}
