/* Report internals: parsed result files, the plot wrapper around PLplot and a growable
 * text buffer for the HTML page. */
#ifndef ML_REPORT_INTERNAL_H
#define ML_REPORT_INTERNAL_H

#include <stddef.h>
#include "memlev/report.h"

/* One `memlev levels` result. Conductances in uS as in the file. */
typedef struct rep_levels {
    char *file, *scheme, *device, *label;
    double states, staircase_states, nl, max_dev, r2, g_min_uS, g_max_uS;
    double pps, rps, eps, sigma_uS, calib_pulses;
    double k;                /* 3 when absent */
    double prec_rms_uS;      /* -1 when absent */
    double yield, fallback, verify, failed, unconverged; /* -1 when absent */
    double pulses, verify_every, states_pop; /* P, feedforward's stride, states_population: -1 when absent */
    size_t npts;             /* P + 1 */
    double *g_mean, *p05, *p95, *step, *v_mean, *pulses_mean;
    size_t nsweep;
    double *sw_v, *sw_cov, *sw_states;
} rep_levels;

typedef struct rep_point {
    char scheme[32];
    double levels, acc, std, ci95, qacc, ppd, devices, seconds;
    double trials, yield, fallback, verify, failed; /* -1 when absent */
    int dist;                /* 1 yes, 0 no */
} rep_point;

/* One `memlev transfer` result. Accuracies are fractions (0..1). */
typedef struct rep_transfer {
    char *file, *device, *model; /* device, model: NULL when the file does not say */
    double baseline, images;  /* images: -1 when absent */
    int complete;             /* -1 when absent */
    size_t n;
    rep_point *pts;
} rep_transfer;

/* One `memlev sweep` result: values are accuracy in % (or states with levels_only). */
typedef struct rep_sweep_pt {
    double levels, value, ci95;
    int series, device, scheme; /* indices into the lists below */
} rep_sweep_pt;

typedef struct rep_sweep {
    char *file;
    int levels_only;
    size_t n;
    rep_sweep_pt *pts;
    char **series;            /* label per series: the values of the axes that vary, levels aside */
    int *series_scheme;       /* scheme index of each series */
    size_t nseries;
    char **devices, **schemes;
    size_t ndev, nsch;
} rep_sweep;

/* One measured train and the fitted model's prediction of it (uS), from a fit report. */
typedef struct rep_train {
    double device, rms_uS, r2;
    size_t n;
    double *pulse, *measured, *fitted;
} rep_train;

/* One `memlev calibrate --report` fit report: its law, one-step R^2 and residual, trains. */
typedef struct rep_fit {
    char *file;
    char law[16];
    double r2, rms_uS;
    size_t n;
    rep_train *tr;
} rep_fit;
/* Trains a fit figure draws (one panel each). */
#define REP_FIT_PANELS 4

struct ml_report {
    rep_fit *fit;
    size_t nfit;
    rep_levels *lv;
    size_t nlv;
    rep_transfer *tr;
    size_t ntr;
    rep_sweep *sw;
    size_t nsw;
    char **written;
    size_t nwritten;
};

void rep_levels_clear(rep_levels *l);
void rep_transfer_clear(rep_transfer *t);
void rep_sweep_clear(rep_sweep *s);
void rep_fit_clear(rep_fit *f);
struct cJSON;
/* Read a fit report (fig_fit.c); errors name the file and the field. */
/* A result file's number (missing: an error when required, else *v kept) and numeric array
 * (exactly *n entries, or lo..hi stored in *n when *n is 0), errors naming src and key (load.c). */
ml_status rep_json_number(const struct cJSON *o, const char *key, const char *src, double *v, int required,
                          ml_error *err);
ml_status rep_json_numbers(const struct cJSON *o, const char *key, const char *src, size_t lo, size_t hi, size_t *n,
                           double **out, ml_error *err);
ml_status rep_load_fit(const struct cJSON *j, const char *src, rep_fit *f, ml_error *err);
/* Read a sweep result (fig_sweep.c); errors name the file and the point. */
ml_status rep_load_sweep(const struct cJSON *j, const char *src, rep_sweep *s, ml_error *err);

/* --- plot.c: one PLplot page written atomically to a PNG or SVG file --- */
enum { REP_BG = 0, REP_FG = 1, REP_GRID = 2, REP_GREY = 13 };
/* cmap0 index of a scheme's colour (3..7) and of its translucent band (8..12). */
int rep_scheme_colour(const char *scheme);
int rep_band_colour(int colour);

typedef struct rep_page {
    char path[4096], tmp[4160];
} rep_page;
/* Start a page of w x h pixels (svg: 1 for svgcairo, 0 for pngcairo). */
ml_status rep_page_begin(rep_page *p, const char *path, int svg, int w, int h, ml_error *err);
/* Finish the page and rename the file into place. */
ml_status rep_page_end(rep_page *p, ml_error *err);
/* Axes with a light grid inside viewport (x0,x1,y0,y1 normalised) and window limits. */
void rep_axes(double vx0, double vx1, double vy0, double vy1, double xmin, double xmax, double ymin, double ymax,
              const char *xopt, double xtick, const char *yopt);
/* Legend of line entries (colours, styles) in the top-left or bottom-right corner. */
void rep_legend(int n, const char *const *text, const int *colour, const int *style, int bottom_right);

/* --- figures: each draws one figure into the current page --- */
typedef struct rep_figure {
    const char *name;      /* file stem, e.g. "staircase" */
    const char *caption;
    int w, h;
    void (*draw)(const ml_report *r, const void *arg);
    const void *arg;
} rep_figure;

void rep_fig_staircase(const ml_report *r, const void *arg);
void rep_fig_steps(const ml_report *r, const void *arg);
void rep_fig_levels(const ml_report *r, const void *arg);
void rep_fig_states(const ml_report *r, const void *arg);
void rep_fig_sweep(const ml_report *r, const void *arg);
void rep_fig_cost(const ml_report *r, const void *arg);
/* Nonzero when two levels results of one scheme and device differ in calibration cost. */
int rep_budget_drawn(const ml_report *r);
void rep_fig_budget(const ml_report *r, const void *arg);
void rep_fig_accuracy(const ml_report *r, const void *arg);   /* arg: const rep_transfer * */
void rep_fig_transfer_cost(const ml_report *r, const void *arg);
void rep_fig_sweep_lines(const ml_report *r, const void *arg);   /* arg: const rep_sweep * */
void rep_fig_sweep_heatmap(const ml_report *r, const void *arg); /* arg: const rep_sweep * */
void rep_fig_fit(const ml_report *r, const void *arg);           /* arg: const rep_fit * */

/* --- html.c --- */
typedef struct rep_buf {
    char *s;
    size_t n, cap;
    int oom;
} rep_buf;
void rep_buf_printf(rep_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s with HTML special characters escaped. */
void rep_buf_escape(rep_buf *b, const char *s);

/* One image in the page: file stem and caption, plus whether an SVG exists. */
typedef struct rep_img {
    const char *section;   /* heading it belongs under */
    char stem[64];
    const char *caption;
} rep_img;
ml_status rep_html_write(const ml_report *r, const char *path, const char *title, const rep_img *imgs, size_t nimgs,
                         int svg, ml_error *err);

#endif
