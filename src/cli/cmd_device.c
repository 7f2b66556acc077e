/* memlev device: list the built-in device presets, or print one (or a device JSON file) in
 * the JSON form --device FILE.json reads back, to copy and edit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"
#include "memlev/device.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: memlev device list | memlev device show NAME|FILE.json [--out FILE.json]\n"
               "List the device presets, or print one as the JSON that --device FILE.json accepts\n"
               "(loading it back gives the same device and the same results).\n");
}

static int show(int argc, char **argv)
{
    const char *out = NULL;
    cli_opt opts[] = {{"out", OPT_OUT, &out, "write the JSON here instead of stdout", 0}, {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"device show", "NAME|FILE.json [--out FILE.json]",
                     "Print a device preset (or a device file, validated) as device JSON.", opts, 1};
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, pos, &npos);
    if (rc) return rc == 1 ? 0 : 2;
    if (npos != 1) return cli_fail("device show", "give one preset name or device JSON file (memlev device list)");
    ml_device d;
    ml_error err = {0};
    if (ml_device_load(pos[0], &d, &err)) return cli_fail_err("device show", &err);
    char *txt = ml_device_to_json(&d);
    ml_device_clear(&d);
    if (!txt) return cli_fail("device show", "out of memory");
    if (out) {
        size_t n = strlen(txt);
        char *t2 = realloc(txt, n + 2);
        if (!t2) { free(txt); return cli_fail("device show", "out of memory"); }
        txt = t2;
        memcpy(txt + n, "\n", 2);
        rc = ml_write_text_atomic(out, txt, &err) ? cli_fail_err("device show", &err) : 0;
    } else
        printf("%s\n", txt);
    free(txt);
    return rc;
}

int ml_cmd_device(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "list")) {
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            usage(stdout);
            return 0;
        }
        if (argc > 2) return cli_fail("device list", "unexpected argument '%s'", argv[2]);
        for (const char *const *p = ml_device_preset_names(); *p; p++) {
            ml_device d;
            ml_error err = {0};
            if (ml_device_preset(*p, &d, &err)) return cli_fail_err("device list", &err);
            static const char *kinds[] = {"softbounds", "neurosim", "serb", "table"};
            int nS = d.g_max < 1e-6; /* windows below 1 uS read better in nS */
            printf("%-18s %-11s G %.4g-%.4g %s\n", *p, (unsigned)d.model < 4 ? kinds[d.model] : "?",
                   d.g_min * (nS ? 1e9 : 1e6), d.g_max * (nS ? 1e9 : 1e6), nS ? "nS" : "uS");
            ml_device_clear(&d);
        }
        return 0;
    }
    if (!strcmp(argv[1], "show")) return show(argc - 1, argv + 1);
    return cli_fail("device", "unknown subcommand '%s' (list or show)", argv[1]);
}
