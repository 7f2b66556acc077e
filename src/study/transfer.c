/* The transfer study: baseline, then per (scheme, levels): a level set, the quantised
 * baseline and Monte-Carlo trials of programming + inference, with mean, standard deviation
 * and a 95 % confidence interval. Points an earlier run finished are taken as they are, so an
 * interrupted study resumes with exactly the results of an uninterrupted one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/rng.h"
#include "memlev/study.h"

void ml_transfer_result_free(ml_transfer_result *r)
{
    if (!r) return;
    ml__free(r->points);
    ml__free(r);
}

/* two-sided 95 % Student t quantile for df degrees of freedom */
static double t95(int df)
{
    static const double t[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086};
    return df < 1 ? 0 : df <= 20 ? t[df] : 1.96 + 2.5 / df;
}

/* a point an earlier run finished, or NULL */
static const ml_transfer_point *find_done(const ml_transfer_study_opts *o, const char *scheme, int levels)
{
    for (size_t q = 0; q < o->ndone; q++)
        if (!strcmp(o->done[q].scheme, scheme) && o->done[q].levels == levels) return &o->done[q];
    return NULL;
}

/* One point: level set, quantised accuracy, then the trials. */
static ml_status run_point(const ml_net *net, const ml_dataset *ds, const ml_transfer_study_opts *r,
                           const ml_scheme_type *type, int N, ml_transfer_point *pt, ml_error *err)
{
    ml_scheme s;
    ml_scheme_defaults(&s, type);
    s.calib_per_device = r->calib_per_device;
    s.verify_every = r->verify_every; /* read only by schemes that correct as they go */
    s.grid_common = !r->grid_own && ml_scheme_targets(&s);
    if (type == ml_scheme_feedforward) s.ff_max_pulses = r->ff_max_pulses;
    ml_levelset *ls = NULL;
    ml_net *pn = ml_net_clone(net);
    if (!pn) return ml_error_set(err, ML_ENOMEM, "transfer: out of memory");
    ml_status rc = ml_levelset_build(r->dev, &s, N, r->sample_devices, r->seed, &ls, err);
    if (rc) { ml_net_free(pn); return rc; }
    ml_transfer_opts o = {ML_TRANSFER_QUANTIZE, r->per_channel, 0, r->seed};
    double qacc = 0, sum = 0, sum2 = 0;
    ml_transfer_stats st = {0};
    rc = ml_transfer_net(net, pn, ls, &o, NULL, err);
    if (!rc) rc = ml_net_evaluate(pn, ds, r->limit, r->batch, NULL, NULL, &qacc, NULL, err);
    for (int t = 0; t < r->trials && !rc; t++) {
        double acc;
        o.mode = r->mode;
        o.relax_time = r->relax_time;
        o.seed = ml_seed_mix(r->seed, (uint64_t)t);
        rc = ml_transfer_net(net, pn, ls, &o, &st, err);
        if (!rc) rc = ml_net_evaluate(pn, ds, r->limit, r->batch, NULL, NULL, &acc, NULL, err);
        if (rc) break;
        sum += acc;
        sum2 += acc * acc;
    }
    if (!rc) {
        int T = r->trials;
        double mean = sum / T, sd = T > 1 ? sqrt(fmax(0, (sum2 - T * mean * mean) / (T - 1))) : 0;
        memset(pt, 0, sizeof *pt);
        snprintf(pt->scheme, sizeof pt->scheme, "%s", ml_scheme_name(type));
        pt->levels = N;
        pt->accuracy_mean = mean;
        pt->accuracy_std = sd;
        pt->ci95 = T > 1 ? t95(T - 1) * sd / sqrt(T) : 0;
        pt->quantized_accuracy = qacc;
        pt->distinguishable = ls->states_population >= N; /* one grid for every device's weights */
        pt->states = ls->states < N ? ls->states : N;
        pt->states_population = ls->states_population < N ? ls->states_population : N;
        pt->grid_common = s.grid_common;
        /* programming and reset reads; pulse mode reads every device once more to evaluate its
         * weight: not a programming read */
        pt->reads_per_device = st.devices > 0 ? fmax(0, st.reads / st.devices - (r->mode == ML_TRANSFER_PULSE)) : 0;
        pt->pulses_per_device = st.devices > 0 ? st.pulses / st.devices : 0;
        pt->calibration_pulses_per_device = st.devices > 0 ? st.calib_pulses / st.devices : 0;
        pt->devices = st.devices / T;
        /* device time, not wall clock: results must be byte-identical run to run */
        pt->program_seconds = st.device_seconds / T;
        pt->energy_j = st.energy_j / T;
        pt->sim_seconds = st.seconds / T;
        pt->trials = T;
        double dv = st.devices > 0 ? st.devices : 1;
        pt->calibration_reads_per_device = st.calib_reads / dv;
        pt->calibration_energy_j = st.calib_energy_j / T;
        pt->calibration_seconds = st.calib_seconds / T;
        pt->reset_pulses_per_device = st.reset_pulses / dv;
        pt->reset_reads_per_device = st.reset_reads / dv;
        pt->reset_energy_j = st.reset_energy_j / T;
        pt->reset_seconds = st.reset_seconds / T;
        pt->yield = ls->yield;
        pt->devices_fallback = (double)ls->devices_fallback;
        pt->devices_verify = (double)ls->devices_verify;
        pt->devices_failed = (double)ls->devices_failed;
        pt->unconverged = (double)ls->unconverged;
    }
    ml_levelset_free(ls);
    ml_net_free(pn);
    return rc;
}

ml_status ml_transfer_study(const ml_net *net, const ml_dataset *ds, const ml_transfer_study_opts *r,
                            ml_transfer_result **out, ml_error *err)
{
    if (!r->dev || r->nschemes < 1 || r->nschemes > 8 || r->nlevels < 1 || !r->levels)
        return ml_error_set(err, ML_EINVAL, "transfer: give a device, 1..8 schemes and at least one level count");
    if (r->trials < 1) return ml_error_set(err, ML_EINVAL, "transfer: trials must be at least 1");
    for (int si = 0; si < r->nschemes; si++)
        if (!r->schemes[si]) return ml_error_set(err, ML_EINVAL, "transfer: scheme %d is not given", si);
    size_t total = (size_t)r->nschemes * (size_t)r->nlevels;
    ml_transfer_result *res = ml__calloc(1, sizeof *res);
    if (!res || !(res->points = ml__calloc(total, sizeof *res->points))) {
        ml__free(res);
        return ml_error_set(err, ML_ENOMEM, "transfer: out of memory");
    }
    ml_status rc = ML_OK;
    if (r->baseline_accuracy >= 0) res->baseline_accuracy = r->baseline_accuracy; /* NAN fails the test */
    else {
        ml_net *bn = ml_net_clone(net);
        double ips = 0;
        if (!bn) rc = ml_error_set(err, ML_ENOMEM, "transfer: out of memory");
        else rc = ml_net_evaluate(bn, ds, r->limit, r->batch, NULL, NULL, &res->baseline_accuracy, &ips, err);
        ml_net_free(bn);
    }
    res->images = r->limit && r->limit < ds->n ? r->limit : ds->n;
    res->reprogram_cycles = r->reprogram_cycles > 0 ? r->reprogram_cycles : 1;
    if (!rc && r->on_point) rc = r->on_point(r->ctx, res, -1);
    if (!rc && r->progress) r->progress(r->progress_ctx, "transfer", 0, (double)total);
    for (int si = 0; si < r->nschemes && !rc; si++)
        for (int li = 0; li < r->nlevels && !rc; li++) {
            ml_transfer_point *pt = &res->points[res->npoints];
            const ml_transfer_point *prev = find_done(r, ml_scheme_name(r->schemes[si]), r->levels[li]);
            if (prev) { *pt = *prev; pt->sim_seconds = 0; }
            else if ((rc = run_point(net, ds, r, r->schemes[si], r->levels[li], pt, err))) break;
            res->npoints++;
            if (r->on_point && (rc = r->on_point(r->ctx, res, (int)res->npoints - 1))) break;
            if (r->progress) r->progress(r->progress_ctx, "transfer", (double)res->npoints, (double)total);
        }
    if (rc) { ml_transfer_result_free(res); return rc; }
    *out = res;
    return ML_OK;
}
