/* kmsg_storm RATE SECONDS DEVICE — the storm step's writer: fault records for DEVICE
 * (SSSS:BB:DD.F) into /dev/kmsg on ONE open file, RATE records per second for SECONDS, paced
 * every millisecond. Level 6 (levels 0-3 would also go to the slow serial console), so they
 * arrive as facility 1 — the daemon counts them with [sources] accept_user_facility. Needs
 * kernel.printk_devkmsg=on (else the kernel ratelimits one open file to 10 lines per 5 s).
 * Prints "written N seconds S failed F". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: kmsg_storm RATE SECONDS SSSS:BB:DD.F\n");
        return 2;
    }
    double rate = atof(argv[1]), seconds = atof(argv[2]);
    const char *dev = argv[3];
    int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        perror("/dev/kmsg");
        return 1;
    }
    long total = (long)(rate * seconds), written = 0, failed = 0;
    char line[256];
    double start = now(), t;
    struct timespec ms = {0, 1000000};
    while (written + failed < total) {
        t = now() - start;
        long due = (long)(t * rate) + 1;
        if (due > total) due = total;
        while (written + failed < due) {
            long i = written + failed;
            int n = snprintf(line, sizeof line,
                             "<14>DMAR: [DMA Read NO_PASID] Request device [%s] fault addr 0x%lx000 [fault reason 0x06] PTE Read access is not set\n",
                             dev, i);
            if (write(fd, line, n) == n) written++;
            else failed++;
        }
        nanosleep(&ms, NULL);
    }
    printf("written %ld seconds %.3f failed %ld\n", written, now() - start, failed);
    close(fd);
    return 0;
}
