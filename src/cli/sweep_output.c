/* Sweep outputs, written by rank 0 only and atomically (temp file, then rename): the JSON
 * {"config", "points" in grid order, "complete"} and a CSV with one row per point whose
 * columns are the points' scalar keys in first-seen order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/sweep.h"
#include "memlev/util.h"

static int is_scalar(const cJSON *v)
{
    return cJSON_IsNumber(v) || cJSON_IsString(v) || cJSON_IsBool(v);
}

static void csv_cell(FILE *f, const cJSON *v)
{
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(long long)d && d > -9007199254740992.0 && d < 9007199254740992.0) fprintf(f, "%.0f", d);
        else fprintf(f, "%.10g", d);
    }
    else if (cJSON_IsBool(v)) fputs(cJSON_IsTrue(v) ? "1" : "0", f);
    else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (!strpbrk(s, ",\"\n")) { fputs(s, f); return; }
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"') fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    }
}

static int write_csv(const sweep_config *c, cJSON *const *points, const char *path, char *msg, size_t n)
{
    cJSON *cols = cJSON_CreateArray();
    for (size_t i = 0; i < c->npoints; i++)
        for (const cJSON *k = points[i]->child; k; k = k->next) {
            int seen = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, cols) seen |= !strcmp(e->valuestring, k->string);
            if (!seen && is_scalar(k)) cJSON_AddItemToArray(cols, cJSON_CreateString(k->string));
        }
    ml_outfile f;
    ml_error err = {0};
    if (ml_outfile_open(&f, path, 0, &err)) { cJSON_Delete(cols); return sweep_fail(msg, n, "%s", err.msg); }
    const cJSON *e;
    int first = 1;
    cJSON_ArrayForEach(e, cols) { fprintf(f.fp, "%s%s", first ? "" : ",", e->valuestring); first = 0; }
    fputc('\n', f.fp);
    for (size_t i = 0; i < c->npoints; i++) {
        first = 1;
        cJSON_ArrayForEach(e, cols) {
            if (!first) fputc(',', f.fp);
            first = 0;
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(points[i], e->valuestring);
            if (is_scalar(v)) csv_cell(f.fp, v);
        }
        fputc('\n', f.fp);
    }
    cJSON_Delete(cols);
    return ml_outfile_commit(&f, &err) ? sweep_fail(msg, n, "%s", err.msg) : 0;
}

int sweep_write_outputs(const sweep_config *c, cJSON *const *points, const char *json_path, const char *csv_path,
                        char *msg, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "config", cJSON_Duplicate(c->echo, 1));
    cJSON *arr = cJSON_AddArrayToObject(root, "points");
    for (size_t i = 0; i < c->npoints; i++) cJSON_AddItemToArray(arr, cJSON_Duplicate(points[i], 1));
    cJSON_AddBoolToObject(root, "complete", 1);
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt) return sweep_fail(msg, n, "%s: out of memory", json_path);
    size_t len = strlen(txt);
    char *t2 = realloc(txt, len + 2);
    if (!t2) { free(txt); return sweep_fail(msg, n, "%s: out of memory", json_path); }
    t2[len] = '\n';
    t2[len + 1] = 0;
    ml_error err = {0};
    ml_status st = ml_write_text_atomic(json_path, t2, &err);
    free(t2);
    if (st) return sweep_fail(msg, n, "%s", err.msg);
    return csv_path ? write_csv(c, points, csv_path, msg, n) : 0;
}
