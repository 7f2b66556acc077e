/* PLplot wrapper: one page per file through the pngcairo/svgcairo drivers, written to a
 * temporary name and renamed into place; colours, axes and legends shared by every figure. */
#include <errno.h>
#include <plplot/plplot.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "report/internal.h"

/* Colour-blind-safe palette (Okabe-Ito); index 3.. are schemes, 8.. their bands. */
static const int palette[5][3] = {{213, 94, 0}, {230, 159, 0}, {0, 158, 115}, {0, 114, 178}, {204, 121, 167}};

int rep_scheme_colour(const char *scheme)
{
    static const char *names[] = {"identical", "ramp", "verify", "feedforward"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(scheme, names[i])) return 3 + i;
    return 7;
}

int rep_band_colour(int colour) { return colour + 5; }

/* PLplot stores the message of an aborted operation here instead of printing it. */
static char abort_msg[256];
static PLINT abort_code;

/* PLplot asks on stdin for a device when the one named is missing: check it is there. */
static int have_device(const char *name)
{
    enum { MAXD = 128 };
    const char *menu[MAXD], *devs[MAXD];
    const char **pm = menu, **pd = devs;
    int n = MAXD;
    plgDevs(&pm, &pd, &n);
    for (int i = 0; i < n && i < MAXD; i++)
        if (pd[i] && !strcmp(pd[i], name)) return 1;
    return 0;
}

ml_status rep_page_begin(rep_page *p, const char *path, int svg, int w, int h, ml_error *err)
{
    const char *dev = svg ? "svgcairo" : "pngcairo";
    abort_msg[0] = 0;
    abort_code = 0;
    plsError(&abort_code, abort_msg);
    if (!have_device(dev))
        return ml_error_set(err, ML_EUNSUPP, "%s: PLplot has no %s driver (apt-get install plplot-driver-cairo)", path, dev);
    if (strlen(path) >= sizeof p->path) return ml_error_set(err, ML_EINVAL, "%s: path too long", path);
    snprintf(p->path, sizeof p->path, "%s", path);
    snprintf(p->tmp, sizeof p->tmp, "%s.tmp.%ld", path, (long)getpid());
    /* PLplot exits the process when it cannot open its file: check first. */
    FILE *f = fopen(p->tmp, "wb");
    if (!f) return ml_error_set(err, ML_EIO, "%s: cannot write: %s", path, strerror(errno));
    fclose(f);
    plsdev(dev);
    plsfnam(p->tmp);
    plspage(0, 0, w, h, 0, 0);
    plscmap0n(16);
    plscol0(REP_BG, 255, 255, 255);
    plscol0(REP_FG, 30, 30, 30);
    plscol0(REP_GRID, 225, 225, 225);
    for (int i = 0; i < 5; i++) {
        plscol0(3 + i, palette[i][0], palette[i][1], palette[i][2]);
        plscol0a(8 + i, palette[i][0], palette[i][1], palette[i][2], 0.22);
    }
    plscol0(REP_GREY, 110, 110, 110);
    plscol0a(14, 120, 120, 120, 0.18);
    plinit();
    plfontld(1);
    plschr(0, 0.95);
    plwidth(1.0);
    return ML_OK;
}

ml_status rep_page_end(rep_page *p, ml_error *err)
{
    plend1();
    struct stat sb;
    if (abort_code || abort_msg[0]) {
        remove(p->tmp);
        return ml_error_set(err, ML_EIO, "%s: PLplot: %s", p->path, abort_msg);
    }
    if (stat(p->tmp, &sb) || sb.st_size == 0) {
        remove(p->tmp);
        return ml_error_set(err, ML_EIO, "%s: PLplot wrote nothing (is plplot-driver-cairo installed?)", p->path);
    }
    if (rename(p->tmp, p->path)) {
        int e = errno;
        remove(p->tmp);
        return ml_error_set(err, ML_EIO, "%s: cannot rename into place: %s", p->path, strerror(e));
    }
    return ML_OK;
}

void rep_axes(double vx0, double vx1, double vy0, double vy1, double xmin, double xmax, double ymin, double ymax,
              const char *xopt, double xtick, const char *yopt)
{
    if (!(xmax > xmin)) { xmin -= 0.5; xmax += 0.5; }
    if (!(ymax > ymin)) { double d = ymin ? 0.05 * (ymin < 0 ? -ymin : ymin) : 0.5; ymin -= d; ymax += d; }
    plvpor(vx0, vx1, vy0, vy1);
    plwind(xmin, xmax, ymin, ymax);
    char gx[16], gy[16];
    snprintf(gx, sizeof gx, "g%s", strchr(xopt, 'l') ? "l" : "");
    snprintf(gy, sizeof gy, "g%s", strchr(yopt, 'l') ? "l" : "");
    plcol0(REP_GRID);
    plwidth(0.8);
    plbox(gx, xtick, 0, gy, 0, 0);
    plcol0(REP_FG);
    plwidth(1.0);
    plbox(xopt, xtick, 0, yopt, 0, 0);
}

void rep_legend(int n, const char *const *text, const int *colour, const int *style, int bottom_right)
{
    if (n <= 0) return;
    enum { MAXL = 16 };
    if (n > MAXL) n = MAXL;
    PLINT opt[MAXL], tcol[MAXL], lcol[MAXL], lsty[MAXL];
    PLFLT lw[MAXL];
    for (int i = 0; i < n; i++) {
        opt[i] = PL_LEGEND_LINE;
        tcol[i] = REP_FG;
        lcol[i] = colour[i];
        lsty[i] = style ? style[i] : 1;
        lw[i] = 2.5;
    }
    PLFLT lwid, lhei;
    plscol0a(15, 255, 255, 255, 0.85);
    pllegend(&lwid, &lhei, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
             PL_POSITION_INSIDE | (bottom_right ? PL_POSITION_RIGHT | PL_POSITION_BOTTOM : PL_POSITION_LEFT | PL_POSITION_TOP),
             0.02, 0.02, 0.08, 15, REP_GREY, 1, 0, 0, n, opt, 1.0, 0.9, 2.0, 0.0, tcol, (const char **)text, NULL, NULL,
             NULL, NULL, lcol, lsty, lw, NULL, NULL, NULL, NULL);
    plcol0(REP_FG);
    pllsty(1);
}
