/* Sweep scheduling. One rank: every point in grid order. Several (MPI): rank 0 coordinates,
 * handing one point at a time to whichever rank asks (points differ in cost by 100x), and
 * receives each result as JSON text; ranks 1..N-1 compute. Rank 0 waits by polling with a
 * short sleep, so it takes no core from the workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/cli.h"
#include "cli/sweep.h"
#include "memlev/util.h"
#ifdef ML_HAVE_MPI
#include <mpi.h>
#endif

enum { TAG_WORK = 1, TAG_RESULT = 2 };

/* launched by an MPI starter (Open MPI's mpirun, or srun/PMIx, or MPICH's PMI) */
static int launched_by_mpi(int *size)
{
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (!s) s = getenv("PMIX_SIZE");
    if (!s) s = getenv("PMI_SIZE");
    *size = s ? atoi(s) : 0;
    return s || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int sweep_comm_init(sweep_comm *m, int *argc, char ***argv)
{
    memset(m, 0, sizeof *m);
    m->size = 1;
    int size;
    if (!launched_by_mpi(&size)) return 0;
#ifdef ML_HAVE_MPI
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return cli_fail("sweep", "MPI_Init failed");
    m->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    return 0;
#else
    if (size > 1)
        return cli_fail("sweep", "launched as %d MPI ranks, but this memlev was built without MPI "
                                 "(install libopenmpi-dev and rebuild)", size);
    return 0;
#endif
}

void sweep_comm_finalize(sweep_comm *m)
{
#ifdef ML_HAVE_MPI
    if (m->mpi) MPI_Finalize();
#endif
    m->mpi = 0;
}

int sweep_comm_agree(const sweep_comm *m, int rc)
{
#ifdef ML_HAVE_MPI
    if (m->mpi) {
        int all = rc;
        MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        return all;
    }
#endif
    return rc;
}

/* run point i and time it; on failure the message is printed here */
static int run_one(const sweep_config *c, size_t i, cJSON **pt, double *wall)
{
    sweep_point p;
    ml_error err = {0};
    double t0 = ml_now();
    if (sweep_point_make(c, i, &p)) return cli_fail("sweep", "out of memory");
    int rc = sweep_point_run(&p, pt, &err);
    sweep_point_clear(&p);
    *wall = ml_now() - t0;
    if (rc) return cli_fail("sweep", "point %zu: %s", i, err.msg[0] ? err.msg : "failed");
    return 0;
}

static int run_serial(const sweep_config *c, const unsigned char *todo, sweep_done_fn done, void *ctx)
{
    for (size_t i = 0; i < c->npoints; i++) {
        if (!todo[i]) continue;
        cJSON *pt = NULL;
        double wall;
        if (run_one(c, i, &pt, &wall)) return 2;
        if (done(ctx, i, pt, 0, wall)) return 2;
    }
    return 0;
}

#ifdef ML_HAVE_MPI
/* worker: ask, compute, answer with {"index","ok","point","wall_s"} until told to stop */
static int worker(const sweep_config *c)
{
    const char *hello = "{\"index\":-1}";
    MPI_Send(hello, (int)strlen(hello) + 1, MPI_CHAR, 0, TAG_RESULT, MPI_COMM_WORLD);
    int rc = 0;
    for (;;) {
        long long idx;
        MPI_Recv(&idx, 1, MPI_LONG_LONG, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (idx < 0) break;
        cJSON *pt = NULL;
        double wall = 0;
        int bad = run_one(c, (size_t)idx, &pt, &wall);
        cJSON *m = cJSON_CreateObject();
        cJSON_AddNumberToObject(m, "index", (double)idx);
        cJSON_AddBoolToObject(m, "ok", !bad);
        cJSON_AddNumberToObject(m, "wall_s", wall);
        if (pt) cJSON_AddItemToObject(m, "point", pt);
        char *txt = cJSON_PrintUnformatted(m);
        cJSON_Delete(m);
        if (!txt) txt = strdup("{\"index\":-2}");
        MPI_Send(txt, (int)strlen(txt) + 1, MPI_CHAR, 0, TAG_RESULT, MPI_COMM_WORLD);
        free(txt);
        rc |= bad;
    }
    return rc ? 2 : 0;
}

/* rank 0: hand out points in grid order until none are left or one failed */
static int coordinator(const sweep_comm *m, const sweep_config *c, const unsigned char *todo, sweep_done_fn done,
                       void *ctx)
{
    size_t next = 0;
    int active = m->size - 1, rc = 0;
    while (active > 0) {
        int flag = 0;
        MPI_Status s;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &s);
        if (!flag) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
            continue;
        }
        int len;
        MPI_Get_count(&s, MPI_CHAR, &len);
        char *buf = malloc((size_t)len + 1);
        if (!buf) MPI_Abort(MPI_COMM_WORLD, 2);
        MPI_Recv(buf, len, MPI_CHAR, s.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        buf[len] = 0;
        cJSON *msg = cJSON_Parse(buf);
        free(buf);
        double idx = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(msg, "index"));
        if (idx >= 0) {
            cJSON *pt = cJSON_DetachItemFromObjectCaseSensitive(msg, "point");
            double wall = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(msg, "wall_s"));
            if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "ok")) || !pt) { cJSON_Delete(pt); rc = 2; }
            else if (done(ctx, (size_t)idx, pt, s.MPI_SOURCE, wall)) rc = 2;
        } else if (idx < -1) {
            rc = cli_fail("sweep", "rank %d: out of memory", s.MPI_SOURCE);
        }
        cJSON_Delete(msg);
        while (next < c->npoints && !todo[next]) next++;
        long long give = -1;
        if (!rc && next < c->npoints) give = (long long)next++;
        if (give < 0) active--;
        MPI_Send(&give, 1, MPI_LONG_LONG, s.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
    }
    return rc;
}
#endif

int sweep_execute(const sweep_comm *m, const sweep_config *c, const unsigned char *todo, sweep_done_fn done, void *ctx)
{
#ifdef ML_HAVE_MPI
    if (m->mpi && m->size > 1) {
        /* no collective at the end: a finished rank would spin in it, taking a core from the
         * ranks still computing; rank 0 learns of every failure from the results */
        return m->rank == 0 ? coordinator(m, c, todo, done, ctx) : worker(c);
    }
#endif
    return m->rank == 0 ? run_serial(c, todo, done, ctx) : 0;
}
