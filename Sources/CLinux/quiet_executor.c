// Swift concurrency's global executor for the daemon, in place of libdispatch's thread pool.
//
// Why: on Linux the default global executor is libdispatch, whose internal workqueue starts a
// pool monitor — a 1 s timer on its manager thread — the first time a worker thread serves a
// Swift task, and keeps it for the life of the process. An idle iommud then woke 60 times a
// minute for nothing (BENCHMARKS.md, "idle"). This pool waits on a condition variable, with a
// timeout only while a Task.sleep is pending: when nothing happens, nothing wakes.
//
// How: the runtime's documented override points (swift/Runtime/ConcurrencyHooks.def):
// swift_task_enqueueGlobal{,WithDelay,WithDeadline}_hook. A job is run with swift_job_run on the
// generic executor, exactly as the dispatch-based executor does. Written in C because the hooks
// use the Swift calling convention, which clang spells directly (swiftcall).
#define _GNU_SOURCE  // pthread_setname_np
#include "clinux.h"
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWIFTCC __attribute__((swiftcall))

typedef struct {
    void *identity;  // HeapObject *: null for the generic executor
    uintptr_t implementation;
} serial_executor_ref;

extern SWIFTCC void swift_job_run(void *job, serial_executor_ref executor);

typedef SWIFTCC void (*enqueue_original)(void *job);
typedef SWIFTCC void (*enqueue_hook)(void *job, enqueue_original original);
typedef SWIFTCC void (*delay_original)(unsigned long long delay, void *job);
typedef SWIFTCC void (*delay_hook)(unsigned long long delay, void *job, delay_original original);
typedef SWIFTCC void (*deadline_original)(long long sec, long long nsec, long long tsec, long long tnsec, int clock,
                                          void *job);
typedef SWIFTCC void (*deadline_hook)(long long sec, long long nsec, long long tsec, long long tnsec, int clock,
                                      void *job, deadline_original original);

extern enqueue_hook swift_task_enqueueGlobal_hook;
extern delay_hook swift_task_enqueueGlobalWithDelay_hook;
extern deadline_hook swift_task_enqueueGlobalWithDeadline_hook;

typedef struct {
    uint64_t due;  // CLOCK_MONOTONIC, ns
    uint64_t order;
    void *job;
} timed_job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond;
// Ready jobs: a growable ring.
static void **ready;
static size_t ready_cap, ready_head, ready_count;
// Delayed jobs: a binary min-heap on (due, order). Few at a time (the daemon's sleeps).
static timed_job *timed;
static size_t timed_cap, timed_count;
static uint64_t timed_order;
static size_t idle_workers;
static int installed;

static uint64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *grow(void *p, size_t *cap, size_t elem) {
    size_t n = *cap ? *cap * 2 : 64;
    void *q = realloc(p, n * elem);
    if (!q) {
        fputs("iommud: out of memory in the task executor\n", stderr);
        abort();
    }
    *cap = n;
    return q;
}

static void push_ready(void *job) {
    if (ready_count == ready_cap) {
        // Full: copy the ring in order into a larger array starting at index 0.
        size_t cap = ready_cap;
        void **bigger = grow(NULL, &cap, sizeof *ready);
        for (size_t i = 0; i < ready_count; i++) bigger[i] = ready[(ready_head + i) % ready_cap];
        free(ready);
        ready = bigger;
        ready_cap = cap;
        ready_head = 0;
    }
    ready[(ready_head + ready_count) % ready_cap] = job;
    ready_count++;
}

static void *pop_ready(void) {
    void *job = ready[ready_head];
    ready_head = (ready_head + 1) % ready_cap;
    ready_count--;
    return job;
}

static int earlier(const timed_job *a, const timed_job *b) {
    return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static void push_timed(uint64_t due, void *job) {
    if (timed_count == timed_cap) timed = grow(timed, &timed_cap, sizeof *timed);
    size_t i = timed_count++;
    timed[i] = (timed_job){due, timed_order++, job};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(&timed[i], &timed[parent])) break;
        timed_job t = timed[i];
        timed[i] = timed[parent];
        timed[parent] = t;
        i = parent;
    }
}

static void pop_timed(void) {
    timed[0] = timed[--timed_count];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < timed_count && earlier(&timed[l], &timed[m])) m = l;
        if (r < timed_count && earlier(&timed[r], &timed[m])) m = r;
        if (m == i) break;
        timed_job t = timed[i];
        timed[i] = timed[m];
        timed[m] = t;
        i = m;
    }
}

static void *worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        if (timed_count) {
            uint64_t now = now_ns(CLOCK_MONOTONIC);
            while (timed_count && timed[0].due <= now) {
                push_ready(timed[0].job);
                pop_timed();
            }
        }
        if (ready_count) {
            void *job = pop_ready();
            // More work queued and someone idle: let them take it while this one runs.
            if (ready_count && idle_workers) pthread_cond_signal(&ready_cond);
            pthread_mutex_unlock(&lock);
            swift_job_run(job, (serial_executor_ref){0, 0});
            pthread_mutex_lock(&lock);
            continue;
        }
        idle_workers++;
        if (timed_count) {
            uint64_t due = timed[0].due;
            struct timespec ts = {(time_t)(due / 1000000000ull), (long)(due % 1000000000ull)};
            pthread_cond_timedwait(&ready_cond, &lock, &ts);
        } else {
            pthread_cond_wait(&ready_cond, &lock);
        }
        idle_workers--;
    }
    return NULL;
}

static SWIFTCC void enqueue(void *job, enqueue_original original) {
    (void)original;
    pthread_mutex_lock(&lock);
    push_ready(job);
    if (idle_workers) pthread_cond_signal(&ready_cond);
    pthread_mutex_unlock(&lock);
}

static void enqueue_at(uint64_t due, void *job) {
    pthread_mutex_lock(&lock);
    int first = timed_count == 0 || due < timed[0].due;
    push_timed(due, job);
    // A new earliest deadline: an idle worker must shorten its wait.
    if (first && idle_workers) pthread_cond_signal(&ready_cond);
    pthread_mutex_unlock(&lock);
}

static SWIFTCC void enqueue_delay(unsigned long long delay, void *job, delay_original original) {
    (void)original;
    enqueue_at(now_ns(CLOCK_MONOTONIC) + delay, job);
}

static SWIFTCC void enqueue_deadline(long long sec, long long nsec, long long tsec, long long tnsec, int clock,
                                     void *job, deadline_original original) {
    (void)tsec, (void)tnsec, (void)original;
    // swift_clock_id: 1 continuous (CLOCK_BOOTTIME on Linux), 2 suspending (CLOCK_MONOTONIC).
    clockid_t source = clock == 1 ? CLOCK_BOOTTIME : CLOCK_MONOTONIC;
    int64_t deadline = (int64_t)sec * 1000000000ll + nsec;
    int64_t left = deadline - (int64_t)now_ns(source);
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    enqueue_at(left > 0 ? now + (uint64_t)left : now, job);
}

int clinux_quiet_executor_install(int threads) {
    if (installed || threads < 1) return -1;
    if (swift_task_enqueueGlobal_hook || swift_task_enqueueGlobalWithDelay_hook ||
        swift_task_enqueueGlobalWithDeadline_hook)
        return -1;  // someone else owns the global executor
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ready_cond, &attr);
    pthread_condattr_destroy(&attr);
    for (int i = 0; i < threads; i++) {
        pthread_t t;
        pthread_attr_t ta;
        pthread_attr_init(&ta);
        pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &ta, worker, NULL);
        pthread_attr_destroy(&ta);
        if (rc != 0) {
            if (i == 0) return -1;
            break;
        }
        char name[16];
        snprintf(name, sizeof name, "iommud-task-%d", i);
        pthread_setname_np(t, name);
    }
    installed = 1;
    swift_task_enqueueGlobal_hook = enqueue;
    swift_task_enqueueGlobalWithDelay_hook = enqueue_delay;
    swift_task_enqueueGlobalWithDeadline_hook = enqueue_deadline;
    return 0;
}
