/* ml_report: collect results, choose the figures they support, render each as PNG (and
 * SVG), then write index.html. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/alloc.h"
#include "report/internal.h"

void ml_report_opts_defaults(ml_report_opts *o)
{
    o->svg = 1;
    o->width_px = 900;
    o->height_px = 560;
    o->title = NULL;
}

ml_status ml_report_new(ml_report **out, ml_error *err)
{
    ml_report *r = ml__calloc(1, sizeof *r);
    if (!r) return ml_error_set(err, ML_ENOMEM, "out of memory");
    *out = r;
    return ML_OK;
}

static void forget_written(ml_report *r)
{
    for (size_t i = 0; i < r->nwritten; i++) ml__free(r->written[i]);
    ml__free(r->written);
    r->written = NULL;
    r->nwritten = 0;
}

void ml_report_free(ml_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nlv; i++) rep_levels_clear(&r->lv[i]);
    for (size_t i = 0; i < r->ntr; i++) rep_transfer_clear(&r->tr[i]);
    for (size_t i = 0; i < r->nsw; i++) rep_sweep_clear(&r->sw[i]);
    for (size_t i = 0; i < r->nfit; i++) rep_fit_clear(&r->fit[i]);
    ml__free(r->fit);
    ml__free(r->sw);
    ml__free(r->lv);
    ml__free(r->tr);
    forget_written(r);
    ml__free(r);
}

size_t ml_report_nfiles(const ml_report *r) { return r ? r->nwritten : 0; }
const char *ml_report_file(const ml_report *r, size_t i) { return r && i < r->nwritten ? r->written[i] : NULL; }

static ml_status note(ml_report *r, const char *path, ml_error *err)
{
    char **w = ml__realloc(r->written, (r->nwritten + 1) * sizeof *w);
    if (!w) return ml_error_set(err, ML_ENOMEM, "out of memory");
    r->written = w;
    size_t n = strlen(path) + 1;
    if (!(w[r->nwritten] = ml__malloc(n))) return ml_error_set(err, ML_ENOMEM, "out of memory");
    memcpy(w[r->nwritten++], path, n);
    return ML_OK;
}

static ml_status render(ml_report *r, const char *dir, const rep_figure *f, int svg, ml_error *err)
{
    for (int s = 0; s <= svg; s++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s.%s", dir, f->name, s ? "svg" : "png") >= (int)sizeof path)
            return ml_error_set(err, ML_EINVAL, "%s: path too long", dir);
        rep_page pg;
        ml_status st = rep_page_begin(&pg, path, s, f->w, f->h, err);
        if (st) return st;
        f->draw(r, f->arg);
        if ((st = rep_page_end(&pg, err)) || (st = note(r, path, err))) return st;
    }
    return ML_OK;
}

/* add name (its file name when a path) to the comma list in buf unless it is there; at most
 * 4 names, then "..." */
static void add_name(char *buf, size_t cap, int *count, const char *name)
{
    if (!name || !*name) return;
    const char *base = strrchr(name, '/');
    base = base && base[1] ? base + 1 : name;
    size_t n = strlen(base);
    for (const char *p = buf; (p = strstr(p, base)); p += n)
        if ((p == buf || p[-1] == ' ') && (p[n] == ',' || p[n] == 0)) return;
    if (++*count > 4) {
        if (*count == 5) snprintf(buf + strlen(buf), cap - strlen(buf), ", ...");
        return;
    }
    snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", *count > 1 ? ", " : "", base);
}

/* "memlev report: MODEL on DEVICE" from what the result files name */
static void default_title(const ml_report *r, char *out, size_t cap)
{
    char models[256] = "", devices[256] = "";
    int nm = 0, nd = 0;
    for (size_t i = 0; i < r->ntr; i++) {
        add_name(models, sizeof models, &nm, r->tr[i].model);
        add_name(devices, sizeof devices, &nd, r->tr[i].device);
    }
    for (size_t i = 0; i < r->nlv; i++) add_name(devices, sizeof devices, &nd, r->lv[i].device);
    for (size_t i = 0; i < r->nsw; i++)
        for (size_t k = 0; k < r->sw[i].ndev; k++) add_name(devices, sizeof devices, &nd, r->sw[i].devices[k]);
    snprintf(out, cap, "memlev report%s%s%s%s", nm || nd ? ": " : "", models, nm && nd ? " on " : "", devices);
}

ml_status ml_report_write(ml_report *r, const char *dir, const ml_report_opts *opts, ml_error *err)
{
    ml_report_opts o;
    ml_report_opts_defaults(&o);
    if (opts) o = *opts;
    if (!r || !dir || !*dir) return ml_error_set(err, ML_EINVAL, "ml_report_write: no report or folder");
    if (!r->nlv && !r->ntr && !r->nsw && !r->nfit) return ml_error_set(err, ML_EINVAL, "no results to report");
    if (o.width_px < 200 || o.width_px > 8000 || o.height_px < 150 || o.height_px > 8000)
        return ml_error_set(err, ML_EINVAL, "plot size %d x %d px is out of range (200..8000 x 150..8000)", o.width_px,
                            o.height_px);
    char title[600];
    if (!o.title) {
        default_title(r, title, sizeof title);
        o.title = title;
    }
    if (mkdir(dir, 0777) && errno != EEXIST) return ml_error_set(err, ML_EIO, "%s: cannot create folder: %s", dir, strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) return ml_error_set(err, ML_EIO, "%s: not a folder", dir);
    forget_written(r);
    int w = o.width_px, h = o.height_px;
    size_t nmax = 7 + 2 * r->ntr + 2 * r->nsw + r->nfit, n = 0;
    rep_figure *figs = ml__calloc(nmax, sizeof *figs);
    rep_img *imgs = ml__calloc(nmax, sizeof *imgs);
    if (!figs || !imgs) { ml__free(figs); ml__free(imgs); return ml_error_set(err, ML_ENOMEM, "out of memory"); }
    int sweep = 0;
    for (size_t i = 0; i < r->nlv; i++) sweep |= r->lv[i].nsweep > 0;
    size_t shown = r->nlv < 16 ? r->nlv : 16;
#define ADD(sec, nm, cap, W, H, fn, a)                                                             \
    do {                                                                                           \
        figs[n] = (rep_figure){NULL, cap, W, H, fn, a};                                            \
        imgs[n].section = sec;                                                                     \
        imgs[n].caption = cap;                                                                     \
        snprintf(imgs[n].stem, sizeof imgs[n].stem, "%s", nm);                                     \
        figs[n].name = imgs[n].stem;                                                               \
        n++;                                                                                       \
    } while (0)
    if (r->nlv) {
        ADD("staircases", "staircase", "Conductance vs pulse number per scheme, with the 5-95 % band over devices.", w, h,
            rep_fig_staircase, NULL);
        ADD("staircases", "steps", "Conductance step per pulse: identical pulses start coarse and saturate.", w, h,
            rep_fig_steps, NULL);
        ADD("levels", "levels", "The most crowded 12 steps of each staircase: mean level (dot) inside a box of height "
            "k sigma_read; where boxes overlap, adjacent levels are closer than k sigma_read and not distinguishable.", w, (int)(60 + 230 * shown),
            rep_fig_levels, NULL);
        ADD("levels", "states", "Distinguishable states per scheme at the same pulse budget.", w, h, rep_fig_states, NULL);
        if (sweep)
            ADD("levels", "sweep", "Identical pulses: the fixed amplitude was chosen from this sweep (most states among "
                "those that cover the window).", w, h, rep_fig_sweep, NULL);
        ADD("cost", "cost", "Programming cost per state: pulses, verify reads and energy.", (int)(w * 1.15), (int)(h * 0.85),
            rep_fig_cost, NULL);
        if (rep_budget_drawn(r))
            ADD("cost", "budget", "States against calibration pulses per device for results of one scheme and device "
                "that differ in calibration cost: one line per pulse budget P and verify stride (--verify-every; open "
                "loop: 0); dashed: states_population.", w, h, rep_fig_budget, NULL);
    }
    for (size_t i = 0; i < r->ntr; i++) {
        if (!r->tr[i].n) continue; /* an interrupted run may have no points yet: table only */
        char a[32], c[32];
        snprintf(a, sizeof a, i ? "accuracy-%zu" : "accuracy", i + 1);
        snprintf(c, sizeof c, i ? "transfer-cost-%zu" : "transfer-cost", i + 1);
        ADD("transfer", a, "Test accuracy vs levels per scheme: mean and 95 % confidence interval over Monte-Carlo "
            "trials; dashed: float baseline.", w, h, rep_fig_accuracy, &r->tr[i]);
        ADD("transfer", c, "Pulses per device to program the network, per scheme and number of levels.", w, (int)(h * 0.8),
            rep_fig_transfer_cost, &r->tr[i]);
    }
    for (size_t i = 0; i < r->nsw; i++) {
        const rep_sweep *s = &r->sw[i];
        if (!s->n) continue;
        char a[48], c[48];
        snprintf(a, sizeof a, i ? "sweep-lines-%zu" : "sweep-lines", i + 1);
        snprintf(c, sizeof c, i ? "sweep-heatmap-%zu" : "sweep-heatmap", i + 1);
        ADD("sweeps", a, s->levels_only ? "Sweep: distinguishable states vs pulse budget, one line per device and scheme "
            "(and every other axis that varies)." : "Sweep: test accuracy vs levels, one line per device and scheme (and "
            "every other axis that varies); bars: 95 % CI over trials.", w, h, rep_fig_sweep_lines, s);
        if (s->ndev >= 2)
            ADD("sweeps", c, "Sweep: devices against levels per scheme (mean over the other axes); the device axis "
                "of the grid as a heatmap.", w, (int)(90 + 60 * s->nsch * (s->ndev + 2.5)), rep_fig_sweep_heatmap, s);
    }
    for (size_t i = 0; i < r->nfit; i++) {
        char a[32];
        size_t np = r->fit[i].n < REP_FIT_PANELS ? r->fit[i].n : REP_FIT_PANELS;
        snprintf(a, sizeof a, i ? "fit-%zu" : "fit", i + 1);
        ADD("fit", a, "Calibration: the measured conductance train (grey) against the fitted model's prediction "
            "(each run of one polarity predicted open loop from the read before it), per device; title: the "
            "one-step R^2 and residual of the fit.", w, (int)(120 + 260 * np), rep_fig_fit, &r->fit[i]);
    }
#undef ADD
    ml_status st = ML_OK;
    for (size_t i = 0; i < n && !st; i++) st = render(r, dir, &figs[i], o.svg != 0, err);
    if (!st) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/index.html", dir) >= (int)sizeof path)
            st = ml_error_set(err, ML_EINVAL, "%s: path too long", dir);
        else if (!(st = rep_html_write(r, path, o.title, imgs, n, o.svg != 0, err)))
            st = note(r, path, err);
    }
    ml__free(figs);
    ml__free(imgs);
    return st;
}
