/* memlev report: plots and a self-contained HTML page from levels/transfer/sweep result files. */
#include <stdio.h>
#include "cli/cli.h"
#include "memlev/report.h"

#define MAX_RESULTS 64

int ml_cmd_report(int argc, char **argv)
{
    const char *out = "memlev-report", *title = NULL;
    long width = 900, height = 560;
    int no_svg = 0;
    cli_opt opts[] = {
        {"out", OPT_OUTDIR, &out, "report folder (created; files in it are replaced) [memlev-report]", 0},
        {"title", OPT_STR, &title, "page title [memlev report: MODEL on DEVICE, from the result files]", 0},
        {"width", OPT_INT, &width, "plot width in pixels (200..8000) [900]", 0},
        {"height", OPT_INT, &height, "plot height in pixels (150..8000) [560]", 0},
        {"no-svg", OPT_FLAG, &no_svg, "write PNG plots only (default: PNG and SVG)", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"report", "RESULTS.json... [--out DIR]",
                     "Plots (PNG/SVG) and index.html from memlev levels, transfer and sweep result files and calibrate fit reports (measured vs fitted trains).", opts, MAX_RESULTS};
    char *pos[MAX_RESULTS];
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, pos, &npos);
    if (rc) return rc == 1 ? 0 : 2;
    if (npos == 0) return cli_fail("report", "give at least one result file (memlev levels/transfer/sweep --json, calibrate --report)");
    if (width < 200 || width > 8000) return cli_fail("report", "--width: %ld is out of range (200..8000)", width);
    if (height < 150 || height > 8000) return cli_fail("report", "--height: %ld is out of range (150..8000)", height);
    ml_error err = {0};
    ml_report *r = NULL;
    if (ml_report_new(&r, &err)) return cli_fail_err("report", &err);
    for (int i = 0; i < npos; i++) {
        if (ml_report_add_file(r, pos[i], NULL, &err)) {
            ml_report_free(r);
            return cli_fail_err("report", &err);
        }
    }
    ml_report_opts o;
    ml_report_opts_defaults(&o);
    o.svg = !no_svg;
    o.width_px = (int)width;
    o.height_px = (int)height;
    o.title = title;
    if (ml_report_write(r, out, &o, &err)) {
        ml_report_free(r);
        return cli_fail_err("report", &err);
    }
    printf("report: %zu files in %s/, open %s\n", ml_report_nfiles(r), out, ml_report_file(r, ml_report_nfiles(r) - 1));
    ml_report_free(r);
    return 0;
}
