/* Sweep journal "<json>.journal": the first line echoes the config, every further line is
 * one finished point {"index": i, "point": {...}}, written whole with one write() and
 * fsync'd before the next point is handed out. A sweep killed at any moment leaves at worst
 * a torn last line, which --resume drops (and truncates away) before appending. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/sweep.h"
#include "memlev/util.h"

static int write_line(int fd, const char *txt)
{
    size_t n = strlen(txt);
    char *line = malloc(n + 2);
    if (!line) return -1;
    memcpy(line, txt, n);
    line[n] = '\n';
    line[n + 1] = 0;
    size_t off = 0;
    while (off < n + 1) {
        ssize_t w = write(fd, line + off, n + 1 - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { free(line); return -1; }
        off += (size_t)w;
    }
    free(line);
    return fsync(fd);
}

static char *header_text(const sweep_config *c)
{
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "memlev_sweep_journal", 1);
    cJSON_AddItemToObject(h, "config", cJSON_Duplicate(c->echo, 1));
    char *t = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    return t;
}

/* the coordinates of a journaled point must be those of the grid point at its index */
static int same_coords(const sweep_config *c, size_t index, const cJSON *pt)
{
    sweep_point p;
    if (sweep_point_make(c, index, &p)) return 0;
    int ok = 1;
    for (const cJSON *k = p.coords->child; k && ok; k = k->next)
        ok = cJSON_Compare(k, cJSON_GetObjectItemCaseSensitive(pt, k->string), 1);
    ok = ok && cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pt, "point_seed")) == (double)p.seed;
    sweep_point_clear(&p);
    return ok;
}

/* read finished points; *good is the byte length of the intact prefix */
static int read_back(const char *path, char *buf, size_t len, const sweep_config *c, cJSON **done, size_t *good,
                     char *msg, size_t n)
{
    size_t off = 0;
    int line = 0;
    *good = 0;
    while (off < len) {
        char *nl = memchr(buf + off, '\n', len - off);
        if (!nl) break; /* torn last line: never completed */
        *nl = 0;
        line++;
        cJSON *j = cJSON_Parse(buf + off);
        size_t next = (size_t)(nl - buf) + 1;
        if (line == 1) {
            char *want = header_text(c);
            int ok = want && j && !strcmp(buf + off, want);
            free(want);
            cJSON_Delete(j);
            if (!ok) return sweep_fail(msg, n, "%s: was written for a different config; remove it to start afresh", path);
        } else {
            const cJSON *ix = cJSON_GetObjectItemCaseSensitive(j, "index");
            cJSON *pt = cJSON_GetObjectItemCaseSensitive(j, "point");
            if (!j || !cJSON_IsNumber(ix) || !cJSON_IsObject(pt)) {
                cJSON_Delete(j);
                if (next >= len) break; /* a damaged last line counts as torn */
                return sweep_fail(msg, n, "%s: line %d is damaged", path, line);
            }
            double d = ix->valuedouble;
            if (!(d >= 0 && d < (double)c->npoints) || !same_coords(c, (size_t)d, pt)) {
                cJSON_Delete(j);
                return sweep_fail(msg, n, "%s: line %d does not match the config's grid", path, line);
            }
            size_t i = (size_t)d;
            cJSON_Delete(done[i]);
            done[i] = cJSON_DetachItemViaPointer(j, pt);
            cJSON_Delete(j);
        }
        off = next;
        *good = off;
    }
    return 0;
}

int sweep_journal_open(sweep_journal *j, const char *json_path, const sweep_config *c, int resume, cJSON **done,
                       char *msg, size_t n)
{
    j->fd = -1;
    if (snprintf(j->path, sizeof j->path, "%s.journal", json_path) >= (int)sizeof j->path)
        return sweep_fail(msg, n, "%s: path too long", json_path);
    int exists = access(j->path, F_OK) == 0;
    if (exists && !resume)
        return sweep_fail(msg, n, "%s: an interrupted sweep's journal exists; pass --resume to continue it, or remove it", j->path);
    size_t good = 0;
    if (exists) {
        char *buf = NULL;
        size_t len;
        ml_error err = {0};
        if (ml_read_file(j->path, &buf, &len, (size_t)1 << 34, &err)) return sweep_fail(msg, n, "%s", err.msg);
        int rc = read_back(j->path, buf, len, c, done, &good, msg, n);
        free(buf);
        if (rc) return rc;
    }
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (j->fd < 0) return sweep_fail(msg, n, "%s: cannot open: %s", j->path, strerror(errno));
    /* drop a torn tail (or an empty file's nothing) so appends start on a line boundary */
    if (ftruncate(j->fd, (off_t)good)) return sweep_fail(msg, n, "%s: cannot truncate: %s", j->path, strerror(errno));
    if (good == 0) {
        char *h = header_text(c);
        int rc = h ? write_line(j->fd, h) : -1;
        free(h);
        if (rc) return sweep_fail(msg, n, "%s: cannot write: %s", j->path, strerror(errno));
    }
    return 0;
}

int sweep_journal_append(sweep_journal *j, size_t index, const cJSON *point, char *msg, size_t n)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "index", (double)index);
    cJSON_AddItemToObject(e, "point", cJSON_Duplicate(point, 1));
    char *t = cJSON_PrintUnformatted(e);
    cJSON_Delete(e);
    int rc = t ? write_line(j->fd, t) : -1;
    free(t);
    return rc ? sweep_fail(msg, n, "%s: cannot write: %s", j->path, strerror(errno)) : 0;
}

void sweep_journal_close(sweep_journal *j, int remove_file)
{
    if (j->fd >= 0) close(j->fd);
    j->fd = -1;
    if (remove_file && j->path[0]) unlink(j->path);
}
