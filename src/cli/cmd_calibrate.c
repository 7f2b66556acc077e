/* memlev calibrate: fit a device model to measured pulse responses; writes device JSON. */
#include <stdio.h>
#include <stdlib.h>
#include "cli/common.h"
#include "memlev/measured.h"
#include "memlev/util.h"

int ml_cmd_calibrate(int argc, char **argv)
{
    const char *data = NULL, *model = "softbounds", *json = NULL;
    cli_opt opts[] = {
        {"data", OPT_STR, &data, "measured CSV with columns device,pulse,V,width,G_read (required)", 0},
        {"model", OPT_STR, &model, "softbounds | table (interpolated dG(G, V, width) with measured spread) [softbounds]", 0},
        {"json", OPT_OUT, &json, "write the fitted device JSON here (usable by --device) (required)", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"calibrate", "--data FILE.csv [--model softbounds|table] --json FILE",
                     "Fit a device model to measured pulse responses.", opts, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    if (!data) return cli_fail("calibrate", "--data FILE.csv is required");
    if (!json) return cli_fail("calibrate", "--json FILE is required");
    ml_measured *m = NULL;
    ml_device d;
    ml_error err = {0};
    if (ml_measured_load(data, &m, &err)) return cli_fail_err("calibrate", &err);
    ml_status st = ml_measured_fit(m, model, data, &d, &err);
    ml_measured_free(m);
    if (st) return cli_fail_err("calibrate", &err);
    char *txt = ml_device_to_json(&d);
    printf("fitted %s: G %.3f-%.3f uS, a_p %.4g, v0_p %.4g V, a_d %.4g, v0_d %.4g V, read noise %.3g nS, C2C %.3g\n",
           model, d.g_min * 1e6, d.g_max * 1e6, d.a_p, d.v0_p, d.a_d, d.v0_d, d.s_read_abs * 1e9, d.s_c2c);
    ml_device_clear(&d);
    if (!txt) return cli_fail("calibrate", "out of memory");
    st = ml_write_text_atomic(json, txt, &err);
    free(txt);
    return st ? cli_fail_err("calibrate", &err) : 0;
}
