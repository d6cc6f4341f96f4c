/* The 10-machine benchmark line (lines/bench_10.yaml) as a C loop written for it alone:
 * the yardstick of issue 3 ("a hand-written C loop specialised to that one line").
 *
 *     gcc -O2 -o /tmp/bench10_loop benchmarks/bench10_loop.c -lm && /tmp/bench10_loop
 *     gcc -O2 -DKPIS=1 -o /tmp/bench10_kpis benchmarks/bench10_loop.c -lm && /tmp/bench10_kpis
 *
 * Saturated source, exponential machines, buffers of 5, blocking after service,
 * operating-basis failures (TTF 100 min, TTR 5 min). Each machine has at most one
 * pending event (end of work, failure within the work, end of repair), so the next
 * event is found by a scan of 10 due times. Prints parts and events of 200 h, and
 * events per second (best of 20 runs). Not the twin engines' streams: parts agree
 * with them only statistically (about 7 600 in 200 h). An argument seeds the
 * random numbers (default 1).
 *
 * Built with KPIS=1 the same loop also keeps what a twin replication hands back
 * for this line (`twin.results.ReplicationResult`): each machine's time working,
 * blocked, starved and down and its parts produced, each buffer's level area,
 * time full and empty and highest level, the work in process (area and highest),
 * and every finished part's lead time, from its release at the source. The
 * statistics are summed where the engines sum them: at each change of a state.
 * The line of KPIs it prints after the speed (tests/test_benchmark_models.py
 * checks them against the fast engine) is computed after the timed runs, as twin
 * computes its KPIs after its kernel.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef KPIS
#define KPIS 0
#endif

#define N 10
#define CAP 5
#define MAX_PARTS (1 << 16)
static const double MEAN[N] = {60, 66, 54, 72, 60, 57, 63, 60, 69, 54};
static const double MTTF = 6000, MTTR = 300, HORIZON = 200 * 3600.0;

static uint64_t rng[4];
static void seed(uint64_t x) { /* splitmix64 fills xoshiro's state */
    for (int i = 0; i < 4; i++) {
        uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        rng[i] = z ^ (z >> 31);
    }
}
static double uniform(void) { /* xoshiro256+ */
    uint64_t r = rng[0] + rng[3], t = rng[1] << 17;
    rng[2] ^= rng[0]; rng[3] ^= rng[1]; rng[1] ^= rng[2]; rng[0] ^= rng[3]; rng[2] ^= t;
    rng[3] = (rng[3] << 45) | (rng[3] >> 19);
    return ((r >> 11) + 0.5) * 0x1.0p-53;
}
static double exponential(double mean) { return -mean * log(uniform()); }

/* the machine states are also the columns of state_time: IDLE is starved */
enum { IDLE, BUSY, BLOCKED, DOWN, N_STATES };
static int state[N], level[N], failing[N];
static double due[N], ttf[N], rest[N], now;
static long parts;

/* statistics (KPIS=1); level[i] is the buffer after machine i, the last one unused */
static double state_time[N][N_STATES], state_since[N];
static long produced[N];
static double level_area[N], full_time[N], empty_time[N], level_since[N];
static int level_max[N];
static double released_at[N], queue[N][CAP]; /* release times: machine i's part, buffer i's parts */
static int queue_head[N];
static long wip, wip_max;
static double wip_area, wip_since, lead[MAX_PARTS];

static void set_state(int i, int s) { /* credit the state held since its last change */
    if (KPIS) {
        state_time[i][state[i]] += now - state_since[i];
        state_since[i] = now;
    }
    state[i] = s;
}
static void credit_level(int i) {
    double dt = now - level_since[i];
    level_since[i] = now;
    level_area[i] += level[i] * dt;
    if (level[i] == CAP) full_time[i] += dt;
    if (level[i] == 0) empty_time[i] += dt;
}
static void put(int i, double released) { /* machine i's part into the buffer after it */
    if (KPIS) {
        credit_level(i);
        queue[i][(queue_head[i] + level[i]) % CAP] = released;
        if (level[i] + 1 > level_max[i]) level_max[i] = level[i] + 1;
    }
    level[i]++;
}
static double take(int i) { /* the head of the buffer after machine i; its release time */
    double released = 0;
    if (KPIS) {
        credit_level(i);
        released = queue[i][queue_head[i]];
        queue_head[i] = (queue_head[i] + 1) % CAP;
    }
    level[i]--;
    return released;
}
static void credit_wip(long change) {
    wip_area += wip * (now - wip_since);
    wip_since = now;
    wip += change;
    if (wip > wip_max) wip_max = wip;
}

static void work(int i, double w) { /* run w of work until done or the clock runs out */
    set_state(i, BUSY);
    if (ttf[i] <= w) { rest[i] = w - ttf[i]; due[i] = now + ttf[i]; failing[i] = 1; }
    else { ttf[i] -= w; due[i] = now + w; failing[i] = 0; }
}
static void try_start(int i) {
    if (state[i] != IDLE) return;
    due[i] = INFINITY;
    if (i > 0) {
        if (level[i - 1] == 0) return;
        double released = take(i - 1);
        if (KPIS) released_at[i] = released;
        if (state[i - 1] == BLOCKED) {
            put(i - 1, released_at[i - 1]);
            set_state(i - 1, IDLE);
            try_start(i - 1);
        }
    } else if (KPIS) { /* a new part leaves the saturated source */
        released_at[0] = now;
        credit_wip(1);
    }
    work(i, exponential(MEAN[i]));
}
static void finish(int i) {
    due[i] = INFINITY;
    if (KPIS) produced[i]++;
    if (i == N - 1) {
        if (KPIS) { lead[parts] = now - released_at[i]; credit_wip(-1); }
        parts++;
        set_state(i, IDLE);
        try_start(i);
        return;
    }
    if (level[i] == CAP) { set_state(i, BLOCKED); return; }
    put(i, released_at[i]);
    set_state(i, IDLE);
    try_start(i + 1);
    try_start(i);
}

static void reset(void) {
    now = 0; parts = 0;
    wip = wip_max = 0; wip_area = wip_since = 0;
    for (int i = 0; i < N; i++) {
        state[i] = IDLE; level[i] = 0; ttf[i] = exponential(MTTF);
        for (int s = 0; s < N_STATES; s++) state_time[i][s] = 0;
        state_since[i] = level_since[i] = 0;
        produced[i] = 0; level_area[i] = full_time[i] = empty_time[i] = 0;
        level_max[i] = queue_head[i] = 0;
    }
}

static void close_window(void) { /* every statistic credited up to the end of the window */
    now = HORIZON;
    for (int i = 0; i < N; i++) { set_state(i, state[i]); credit_level(i); }
    credit_wip(0);
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double percentile(const double *sorted, long n, double q) { /* numpy's linear */
    double at = q * (n - 1);
    long k = (long)at;
    return k + 1 < n ? sorted[k] + (at - k) * (sorted[k + 1] - sorted[k]) : sorted[n - 1];
}
static void print_kpis(void) {
    double sum = 0, all = 0; /* all: every statistic, read so that the compiler keeps each */
    for (long k = 0; k < parts; k++) sum += lead[k];
    for (int i = 0; i < N; i++) {
        for (int s = 0; s < N_STATES; s++) all += state_time[i][s];
        all += produced[i] + level_area[i] + full_time[i] + empty_time[i] + level_max[i];
    }
    qsort(lead, parts, sizeof lead[0], by_value);
    printf("kpis completed %ld wip_mean %.4f wip_max %ld lead_time_mean %.3f lead_time_p50 %.3f"
           " lead_time_p95 %.3f op01_working %.6f op01_blocked %.6f op01_down %.6f op10_starved %.6f"
           " b01_level_mean %.6f b01_full %.6f all %.6g\n",
           parts, wip_area / HORIZON, wip_max, sum / parts, percentile(lead, parts, 0.5),
           percentile(lead, parts, 0.95), state_time[0][BUSY] / HORIZON,
           state_time[0][BLOCKED] / HORIZON, state_time[0][DOWN] / HORIZON,
           state_time[N - 1][IDLE] / HORIZON, level_area[0] / HORIZON, full_time[0] / HORIZON, all);
}

int main(int argc, char **argv) {
    double best = INFINITY; long events = 0;
    seed(argc > 1 ? strtoull(argv[1], NULL, 10) : 1);
    for (int run = 0; run < 20; run++) {
        struct timespec t0, t1;
        reset();
        events = 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < N; i++) try_start(i);
        for (;;) {
            int k = 0;
            for (int i = 1; i < N; i++) if (due[i] < due[k]) k = i;
            if (due[k] > HORIZON) break;
            now = due[k]; events++;
            if (state[k] == DOWN) { ttf[k] = exponential(MTTF); work(k, rest[k]); }
            else if (failing[k]) { set_state(k, DOWN); failing[k] = 0; due[k] = now + exponential(MTTR); }
            else finish(k);
        }
        if (KPIS) close_window();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
        if (dt < best) best = dt;
    }
    printf("parts %ld events %ld best %.6f s: %.1f M events/s\n", parts, events, best, events / best / 1e6);
    if (KPIS) print_kpis();
    return 0;
}
