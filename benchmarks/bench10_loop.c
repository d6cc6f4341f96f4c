/* The 10-machine benchmark line (lines/bench_10.yaml) as a C loop written for it alone:
 * the yardstick of issue 3 ("a hand-written C loop specialised to that one line").
 *
 *     gcc -O2 -o /tmp/bench10_loop benchmarks/bench10_loop.c -lm && /tmp/bench10_loop
 *
 * Saturated source, exponential machines, buffers of 5, blocking after service,
 * operating-basis failures (TTF 100 min, TTR 5 min). Each machine has at most one
 * pending event (end of work, failure within the work, end of repair), so the next
 * event is found by a scan of 10 due times. Prints parts and events of 200 h, and
 * events per second (best of 20 runs). Not the twin engines' streams: parts agree
 * with them only statistically (about 7 600 in 200 h).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define N 10
#define CAP 5
static const double MEAN[N] = {60, 66, 54, 72, 60, 57, 63, 60, 69, 54};
static const double MTTF = 6000, MTTR = 300, HORIZON = 200 * 3600.0;

static uint64_t rng[4] = {0x9E3779B97F4A7C15ull, 0xBF58476D1CE4E5B9ull, 0x94D049BB133111EBull, 12345};
static double uniform(void) { /* xoshiro256+ */
    uint64_t r = rng[0] + rng[3], t = rng[1] << 17;
    rng[2] ^= rng[0]; rng[3] ^= rng[1]; rng[1] ^= rng[2]; rng[0] ^= rng[3]; rng[2] ^= t;
    rng[3] = (rng[3] << 45) | (rng[3] >> 19);
    return ((r >> 11) + 0.5) * 0x1.0p-53;
}
static double exponential(double mean) { return -mean * log(uniform()); }

enum { IDLE, BUSY, BLOCKED, DOWN };
static int state[N], level[N], failing[N];
static double due[N], ttf[N], rest[N], now;
static long parts;

static void work(int i, double w) { /* run w of work until done or the clock runs out */
    state[i] = BUSY;
    if (ttf[i] <= w) { rest[i] = w - ttf[i]; due[i] = now + ttf[i]; failing[i] = 1; }
    else { ttf[i] -= w; due[i] = now + w; failing[i] = 0; }
}
static void try_start(int i) {
    if (state[i] != IDLE) return;
    due[i] = INFINITY;
    if (i > 0) {
        if (level[i - 1] == 0) return;
        level[i - 1]--;
        if (state[i - 1] == BLOCKED) { level[i - 1]++; state[i - 1] = IDLE; try_start(i - 1); }
    }
    work(i, exponential(MEAN[i]));
}
static void finish(int i) {
    due[i] = INFINITY;
    if (i == N - 1) { parts++; state[i] = IDLE; try_start(i); return; }
    if (level[i] == CAP) { state[i] = BLOCKED; return; }
    level[i]++; state[i] = IDLE;
    try_start(i + 1);
    try_start(i);
}

int main(void) {
    double best = INFINITY; long events = 0;
    for (int run = 0; run < 20; run++) {
        struct timespec t0, t1;
        now = 0; parts = 0; events = 0;
        for (int i = 0; i < N; i++) { state[i] = IDLE; level[i] = 0; ttf[i] = exponential(MTTF); }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < N; i++) try_start(i);
        for (;;) {
            int k = 0;
            for (int i = 1; i < N; i++) if (due[i] < due[k]) k = i;
            if (due[k] > HORIZON) break;
            now = due[k]; events++;
            if (state[k] == DOWN) { ttf[k] = exponential(MTTF); work(k, rest[k]); }
            else if (failing[k]) { state[k] = DOWN; failing[k] = 0; due[k] = now + exponential(MTTR); }
            else finish(k);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
        if (dt < best) best = dt;
    }
    printf("parts %ld events %ld best %.6f s: %.1f M events/s\n", parts, events, best, events / best / 1e6);
    return 0;
}
