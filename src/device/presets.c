/* Built-in device presets; parameters and their rationale in docs/devices.md. */
#include <stdio.h>
#include <string.h>
#include "memlev/device.h"
#include "device/internal.h"

static const char *const k_names[] = {"tio2x", "agsi", "taox-hfox", "pcmo", "alox-hfo2", "serb-virtualarc", NULL};

const char *const *ml_device_preset_names(void) { return k_names; }

/* NeuroSim benchmark device (V3 manual Table II): window from R_on and on/off ratio. */
static void neurosim_dev(ml_device *d, const char *name, double r_on, double onoff, double levels_p,
                         double levels_d, double nl_p, double nl_d, double vp, double vd, double w, double c2c)
{
    ml_device_defaults(d, ML_MODEL_NEUROSIM);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->g_max = 1.0 / r_on;
    d->g_min = d->g_max / onoff;
    d->pmax_ltp = levels_p;
    d->pmax_ltd = levels_d;
    d->nl_ltp = nl_p;
    d->nl_ltd = nl_d;
    d->v_pulse_p = vp;
    d->v_pulse_d = vd;
    d->width = d->t_ref = w;
    d->width_min = w / 100;
    d->width_max = w * 100;
    d->v0_p = d->v0_d = 0.25;  /* NeuroSim has no amplitude law; assumed slope */
    d->v_th = 0.5 * (vp < -vd ? vp : -vd);
    d->v_max = 1.5 * (vp > -vd ? vp : -vd);
    /* NeuroSim's cycle-to-cycle sigma is absolute, a fraction of the window per pulse */
    d->s_abs = c2c * (d->g_max - d->g_min);
    d->s_read_rel = 0.005;
    /* NeuroSim's device-to-device variation: a spread of each device's labels (sigmaDtoD, 0 in
     * NeuroSim's defaults); 0.1 bends agsi's curve by about the 5 % step spread of tio2x */
    d->d2d_nl = 0.1;
    d->v_read = 0.5;
    ml__neurosim_to_softbounds(d);
}

ml_status ml_device_preset(const char *name, ml_device *d, ml_error *err)
{
    if (!strcmp(name, "tio2x")) {
        ml_device_defaults(d, ML_MODEL_SOFTBOUNDS);
        snprintf(d->name, sizeof d->name, "tio2x");
        d->g_max = 100e-6;
        d->g_min = 100e-6 / 1.19;   /* LRS/HRS conductance ratio 1.19 (84.03 uS) */
        d->a_p = 1.0e-4;            /* 1.0 V, 10 us: a = 5.36e-3 per pulse, NL label ~3.2 over 512 */
        d->v0_p = 0.25;
        d->a_d = 1.0e-4;
        d->v0_d = 0.25;
        d->t_ref = 10e-6;
        d->width = 10e-6;
        d->width_min = 100e-9;
        d->width_max = 1e-3;
        d->v_th = 0.3;
        d->v_pulse_p = 1.0;
        d->v_pulse_d = -1.0;
        d->v_max = 2.5;
        d->s_c2c = 0.01;            /* 1 % of each step */
        d->s_abs = 0;
        d->s_read_rel = 0;
        d->s_read_abs = 3e-9;       /* 3 nS read noise (0.003 % of 100 uS) */
        d->relax_r = 0;
        d->relax_tau = 1.0;
        d->d2d_a_p = d->d2d_a_d = 0.05;
        d->d2d_g_min = d->d2d_g_max = 0.001;
        d->d2d_v0_p = d->d2d_v0_d = 0.02;
        d->v_read = 0.1;
        d->t_read = 1e-6;
        d->g_inf_p = d->g_max;
        d->g_inf_d = d->g_min;
        return ML_OK;
    }
    if (!strcmp(name, "agsi")) {
        neurosim_dev(d, "agsi", 26e6, 12.5, 97, 100, 2.4, -4.88, 3.2, -2.8, 300e-6, 0.035);
        return ML_OK;
    }
    if (!strcmp(name, "taox-hfox")) {
        neurosim_dev(d, "taox-hfox", 100e3, 10, 128, 128, 0.04, -0.63, 1.6, -1.6, 50e-9, 0.037);
        return ML_OK;
    }
    if (!strcmp(name, "pcmo")) {
        neurosim_dev(d, "pcmo", 23e6, 6.84, 50, 50, 3.68, -6.76, 2.0, -2.0, 1e-3, 0.005);
        return ML_OK;
    }
    if (!strcmp(name, "alox-hfo2")) {
        neurosim_dev(d, "alox-hfo2", 16.9e3, 4.43, 40, 40, 1.94, -0.61, 0.9, -1.0, 100e-6, 0.05);
        return ML_OK;
    }
    if (!strcmp(name, "serb-virtualarc")) {
        ml_device_defaults(d, ML_MODEL_SERB);
        snprintf(d->name, sizeof d->name, "serb-virtualarc");
        d->g_min = 1.0 / 9000;
        d->g_max = 1.0 / 5000;
        d->g_inf_p = d->g_max;
        d->g_inf_d = d->g_min;
        d->width = d->t_ref = 1e-6;
        d->width_min = 10e-9;
        d->width_max = 1e-3;
        d->v_th = 0.1;
        d->v_pulse_p = 1.2;
        d->v_pulse_d = -1.2;
        d->v_max = 3.0;
        d->s_read_rel = 0.001;
        d->s_c2c = 0.01;
        d->v_read = 0.5;
        return ML_OK;
    }
    return ml_error_set(err, ML_EINVAL, "unknown device preset '%s'", name);
}
