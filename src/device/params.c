/* Device specs: defaults, validation, copy and release. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/device.h"
#include "device/internal.h"

void ml_device_defaults(ml_device *d, ml_model_kind kind)
{
    memset(d, 0, sizeof *d);
    d->model = kind;
    snprintf(d->name, sizeof d->name, "custom");
    d->g_min = 84e-6;
    d->g_max = 100e-6;
    d->a_p = 1e-4;
    d->v0_p = 0.25;
    d->a_d = 1e-4;
    d->v0_d = 0.25;
    d->t_ref = 10e-6;
    d->v_th = 0.3;
    d->v_pulse_p = 1.0;
    d->v_pulse_d = -1.0;
    d->width = 10e-6;
    d->v_max = 3.0;
    d->width_min = 10e-9;
    d->width_max = 1.0;
    d->v_read = 0.2;
    d->t_read = 1e-6;
    d->relax_tau = 1.0;
    d->nl_ltp = 2.4;
    d->nl_ltd = -4.88;
    d->pmax_ltp = 97;
    d->pmax_ltd = 100;
    /* Messaritaki/Serb defaults: ArC VirtualArC device, polarity flipped so V>0 potentiates */
    d->serb_ap = 11.483;
    d->serb_an = 11.483;
    d->serb_tp = 1.731;
    d->serb_tn = 1.731;
    d->serb_a0p = 5000;
    d->serb_a1p = 500;
    d->serb_a0n = 9000;
    d->serb_a1n = 500;
}

int ml__d2d_applies(ml_model_kind m, const char *key)
{
    if (!strcmp(key, "g_min") || !strcmp(key, "g_max")) return 1; /* every model clamps to its window */
    if (!strcmp(key, "nl")) return m == ML_MODEL_NEUROSIM;
    /* a_p a_d v0_p v0_d: soft bounds only (NeuroSim varies the label; Serb and table devices
     * take the model's own step) */
    return m == ML_MODEL_SOFTBOUNDS;
}

#define CHECK(cond, ...) do { if (!(cond)) return ml_error_set(err, ML_EINVAL, __VA_ARGS__); } while (0)
#define FIN(f) CHECK(isfinite(d->f), "%s: %s must be a finite number", src, #f)
#define NONNEG(f) do { FIN(f); CHECK(d->f >= 0, "%s: %s (%g) must not be negative", src, #f, d->f); } while (0)
#define POS(f) do { FIN(f); CHECK(d->f > 0, "%s: %s (%g) must be positive", src, #f, d->f); } while (0)

ml_status ml_device_validate(const ml_device *d, const char *src, ml_error *err)
{
    if (!src) src = d->name;
    POS(g_min);
    POS(g_max);
    CHECK(d->g_max > d->g_min, "%s: g_max (%g) must exceed g_min (%g)", src, d->g_max, d->g_min);
    /* a window below a millionth of g_max is zero: nothing to program, no states to count */
    CHECK(d->g_max - d->g_min > 1e-6 * d->g_max, "%s: the window g_min..g_max (%g..%g S) is zero", src, d->g_min, d->g_max);
    NONNEG(a_p); NONNEG(a_d);
    POS(v0_p); POS(v0_d); POS(t_ref);
    NONNEG(v_th);
    NONNEG(s_c2c); NONNEG(s_abs); NONNEG(s_read_rel); NONNEG(s_read_abs);
    CHECK(d->s_c2c < 1, "%s: s_c2c (%g) must be below 1", src, d->s_c2c);
    NONNEG(relax_r); POS(relax_tau);
    FIN(stuck_fraction);
    CHECK(d->stuck_fraction >= 0 && d->stuck_fraction <= 1, "%s: stuck_fraction (%g) must be within 0..1", src,
          d->stuck_fraction);
    NONNEG(d2d_a_p); NONNEG(d2d_a_d); NONNEG(d2d_g_min); NONNEG(d2d_g_max); NONNEG(d2d_v0_p); NONNEG(d2d_v0_d);
    CHECK(d->d2d_g_min < 0.5 && d->d2d_g_max < 0.5, "%s: d2d g_min/g_max spreads must be below 0.5", src);
    CHECK(isfinite(d->d2d_nl) && d->d2d_nl >= 0 && d->d2d_nl <= 9,
          "%s: d2d.nl (%g) must be within 0..9 (a spread of NeuroSim labels, which span 0.01..9)", src, d->d2d_nl);
    {
        static const char *const models[] = {"softbounds", "neurosim", "serb", "table"};
        const struct { const char *key; double v; } spreads[] = {
            {"a_p", d->d2d_a_p}, {"a_d", d->d2d_a_d}, {"v0_p", d->d2d_v0_p}, {"v0_d", d->d2d_v0_d}, {"nl", d->d2d_nl}};
        const char *mn = (unsigned)d->model < 4 ? models[d->model] : "unknown";
        for (size_t k = 0; k < sizeof spreads / sizeof spreads[0]; k++)
            CHECK(spreads[k].v == 0 || ml__d2d_applies(d->model, spreads[k].key),
                  "%s: d2d.%s (%g) does not apply to the %s model (%s)", src, spreads[k].key, spreads[k].v, mn,
                  d->model == ML_MODEL_NEUROSIM ? "NeuroSim varies each device's nonlinearity label: use d2d.nl"
                  : d->model == ML_MODEL_SOFTBOUNDS ? "d2d.nl is the neurosim model's label spread"
                  : "every device takes the model's own step: only d2d.g_min and d2d.g_max apply");
    }
    POS(width); POS(width_min); POS(width_max); POS(v_max); NONNEG(v_read); POS(t_read);
    CHECK(d->width_min <= d->width_max, "%s: width_min (%g) exceeds width_max (%g)", src, d->width_min, d->width_max);
    CHECK(d->width >= d->width_min && d->width <= d->width_max,
          "%s: width (%g s) outside [width_min, width_max]", src, d->width);
    FIN(v_pulse_p); FIN(v_pulse_d);
    CHECK(fabs(d->v_pulse_p) <= d->v_max && fabs(d->v_pulse_d) <= d->v_max,
          "%s: v_pulse_p/v_pulse_d exceed v_max (%g V)", src, d->v_max);
    if (d->model == ML_MODEL_NEUROSIM) {
        FIN(nl_ltp); FIN(nl_ltd);
        CHECK(fabs(d->nl_ltp) >= 0.01 && fabs(d->nl_ltp) <= 9, "%s: nl_ltp (%g) must be within 0.01..9 in magnitude", src, d->nl_ltp);
        CHECK(fabs(d->nl_ltd) >= 0.01 && fabs(d->nl_ltd) <= 9, "%s: nl_ltd (%g) must be within 0.01..9 in magnitude", src, d->nl_ltd);
        /* NeuroSim's RealDevice takes the label's sign as the curvature: NL_LTP < 0 or NL_LTD > 0
         * makes the curve steepest near the far bound, which a soft-bounds step cannot follow */
        CHECK(d->nl_ltp > 0, "%s: nl_ltp (%g) < 0 is NeuroSim's anti-saturating potentiation, which memlev does not model "
              "(use a positive label)", src, d->nl_ltp);
        CHECK(d->nl_ltd < 0, "%s: nl_ltd (%g) > 0 is NeuroSim's anti-saturating depression, which memlev does not model "
              "(NeuroSim writes saturating depression negative: use %g)", src, d->nl_ltd, -d->nl_ltd);
        CHECK(d->pmax_ltp >= 2 && d->pmax_ltd >= 2 && d->pmax_ltp <= 1e7 && d->pmax_ltd <= 1e7,
              "%s: pmax_ltp/pmax_ltd must be within 2..1e7", src);
    }
    if (d->model == ML_MODEL_SERB) {
        POS(serb_ap); POS(serb_an); POS(serb_tp); POS(serb_tn); POS(serb_a0p); POS(serb_a0n);
        NONNEG(serb_a1p); NONNEG(serb_a1n);
    }
    if (d->model == ML_MODEL_TABLE)
        CHECK(d->table && d->table->nv > 0 && d->table->nw > 0 && d->table->ng > 1, "%s: table model has no data", src);
    return ML_OK;
}

void ml_device_clear(ml_device *d)
{
    if (d && d->table) {
        ml_dev_table *t = d->table;
        ml__free(t->v); ml__free(t->w); ml__free(t->g); ml__free(t->dg_mean); ml__free(t->dg_std);
        ml__free(t);
        d->table = NULL;
    }
}

static double *dup_arr(const double *a, size_t n)
{
    double *b = ml__malloc(n * sizeof *b);
    if (b) memcpy(b, a, n * sizeof *b);
    return b;
}

ml_status ml_device_copy(ml_device *dst, const ml_device *src)
{
    *dst = *src;
    dst->table = NULL;
    if (!src->table)
        return ML_OK;
    const ml_dev_table *s = src->table;
    ml_dev_table *t = ml__calloc(1, sizeof *t);
    if (!t) return ML_ENOMEM;
    size_t nn = (size_t)s->nv * s->nw * s->ng;
    *t = *s;
    t->v = dup_arr(s->v, s->nv);
    t->w = dup_arr(s->w, s->nw);
    t->g = dup_arr(s->g, s->ng);
    t->dg_mean = dup_arr(s->dg_mean, nn);
    t->dg_std = dup_arr(s->dg_std, nn);
    dst->table = t;
    if (!t->v || !t->w || !t->g || !t->dg_mean || !t->dg_std) {
        ml_device_clear(dst);
        return ML_ENOMEM;
    }
    return ML_OK;
}
