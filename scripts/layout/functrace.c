// functrace.so — which functions of an executable run, in the order they first run.
//
// LD_PRELOAD=functrace.so FUNCTRACE_SYMS=syms.txt FUNCTRACE_OUT=out.txt ./iommud run ...
//
// syms.txt lists "hex-offset name" for every function of the executable (gen-order.py makes it
// from the symbol table). Before the executable's own code runs, this puts an INT3 on the first
// byte of each function in its text mapping (a private copy-on-write copy of those pages). The
// first call of a function traps once: the handler records the function, puts the byte back and
// resumes at the same instruction. At exit, the functions that ran are written in the order of
// their first call. Used only to make the link order file (scripts/layout/README.md).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

static uintptr_t base, lo, hi;
static size_t count;
static uintptr_t *addr;  // function entry points, ascending
static char **names;
static unsigned char *orig;  // the byte each INT3 replaced
static unsigned *rank;       // 0: never ran; else the order of its first call
static unsigned ranks;

static long find(uintptr_t a) {
    size_t l = 0, h = count;
    while (l < h) {
        size_t m = (l + h) / 2;
        if (addr[m] < a) l = m + 1; else h = m;
    }
    return l < count && addr[l] == a ? (long)l : -1;
}

static void trap(int sig, siginfo_t *si, void *ucv) {
    (void)sig; (void)si;
    ucontext_t *uc = ucv;
    uintptr_t a = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP] - 1;
    long i = find(a);
    if (i < 0) {  // not ours: a real breakpoint
        signal(SIGTRAP, SIG_DFL);
        return;
    }
    volatile unsigned char *p = (volatile unsigned char *)a;
    if (*p == 0xCC) *p = orig[i];  // another thread may have put it back already
    unsigned zero = 0, r = __atomic_add_fetch(&ranks, 1, __ATOMIC_SEQ_CST);
    __atomic_compare_exchange_n(&rank[i], &zero, r, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)a;
}

// The program must not take SIGTRAP over (the Swift runtime's backtracer would).
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    static int (*real)(int, const struct sigaction *, struct sigaction *);
    if (!real) real = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    if (sig == SIGTRAP && act && act->sa_sigaction != trap) return 0;
    return real(sig, act, old);
}

static int by_addr(const void *x, const void *y) {
    uintptr_t a = **(uintptr_t *const *)x, b = **(uintptr_t *const *)y;
    return a < b ? -1 : a > b;
}

static void report(void);

// FUNCTRACE_DUMP_AFTER=SECONDS: also write the list then, for programs that never exit cleanly.
static void *dump_later(void *arg) {
    sleep((unsigned)(uintptr_t)arg);
    report();
    return 0;
}

__attribute__((constructor)) static void arm(void) {
    const char *symfile = getenv("FUNCTRACE_SYMS");
    if (!symfile) return;
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k < 0) return;
    exe[k] = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[8192];
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long s, e, off, ino;
        char perm[8], dev[16], path[4096] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %4095s", &s, &e, perm, &off, dev, &ino, path) < 6) continue;
        if (strcmp(path, exe) != 0) continue;
        if (!base) base = s - off;
        if (perm[2] == 'x') { lo = s; hi = e; }
    }
    if (maps) fclose(maps);
    FILE *sf = fopen(symfile, "r");
    if (!sf || !hi) return;
    size_t cap = 1 << 17, n = 0;
    uintptr_t *a0 = malloc(cap * sizeof *a0);
    char **n0 = malloc(cap * sizeof *n0);
    static char name[1 << 16];
    unsigned long off;
    while (fscanf(sf, "%lx %65535s", &off, name) == 2) {
        uintptr_t a = base + off;
        if (a < lo || a >= hi) continue;
        if (n == cap) {
            cap *= 2;
            a0 = realloc(a0, cap * sizeof *a0);
            n0 = realloc(n0, cap * sizeof *n0);
        }
        a0[n] = a;
        n0[n] = strdup(name);
        n++;
    }
    fclose(sf);
    uintptr_t **idx = malloc(n * sizeof *idx);
    for (size_t i = 0; i < n; i++) idx[i] = &a0[i];
    qsort(idx, n, sizeof *idx, by_addr);
    addr = malloc(n * sizeof *addr);
    names = malloc(n * sizeof *names);
    for (size_t i = 0; i < n; i++) {  // aliases (one address, several names): the first name
        size_t j = (size_t)(idx[i] - a0);
        if (count && addr[count - 1] == a0[j]) continue;
        addr[count] = a0[j];
        names[count] = n0[j];
        count++;
    }
    orig = malloc(count);
    rank = calloc(count, sizeof *rank);
    mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC);
    for (size_t i = 0; i < count; i++) {
        orig[i] = *(unsigned char *)addr[i];
        *(unsigned char *)addr[i] = 0xCC;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = trap;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGTRAP, &sa, 0);
    const char *later = getenv("FUNCTRACE_DUMP_AFTER");
    pthread_t t;
    if (later) pthread_create(&t, 0, dump_later, (void *)(uintptr_t)atoi(later));
}

static int by_rank(const void *x, const void *y) {
    unsigned a = rank[*(const size_t *)x], b = rank[*(const size_t *)y];
    return a < b ? -1 : a > b;
}

__attribute__((destructor)) static void report(void) {
    const char *out = getenv("FUNCTRACE_OUT");
    if (!out || !rank) return;
    size_t *ran = malloc(count * sizeof *ran), n = 0;
    for (size_t i = 0; i < count; i++)
        if (rank[i]) ran[n++] = i;
    qsort(ran, n, sizeof *ran, by_rank);
    FILE *f = fopen(out, "w");
    if (!f) return;
    for (size_t i = 0; i < n; i++) fprintf(f, "%s\n", names[ran[i]]);
    fclose(f);
}
