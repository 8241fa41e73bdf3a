/* Calls whose C structs or addresses Swift would otherwise handle through raw pointers: socket
 * addresses, directory entries, iovec arrays, crypt(3)'s scratch space, madvise's address. */
#include "clinux.h"
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

int clinux_madvise(unsigned long address, size_t length, int advice) {
    return madvise((void *)address, length, advice);
}

const char *clinux_dirent_name(const struct dirent *entry) { return entry->d_name; }

int clinux_unix_connect(const char *path) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(addr.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (const struct sockaddr *)&addr, sizeof addr) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int clinux_journal_send_packed(const unsigned char *bytes, const size_t *lengths, int count) {
    if (count <= 0) return -EINVAL;
    struct iovec *iov = calloc((size_t)count, sizeof *iov);
    if (!iov) return -ENOMEM;
    size_t offset = 0;
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = (void *)(bytes + offset);
        iov[i].iov_len = lengths[i];
        offset += lengths[i];
    }
    int rc = sd_journal_sendv(iov, count);
    free(iov);
    return rc;
}

int clinux_crypt(const char *phrase, const char *setting, char *out, size_t out_size) {
    struct crypt_data *data = calloc(1, sizeof *data);
    if (!data) return -1;
    int rc = -1;
    const char *r = crypt_rn(phrase, setting, data, (int)sizeof *data);
    if (r && r[0] != '*' && strlen(r) < out_size) {
        memcpy(out, r, strlen(r) + 1);
        rc = 0;
    }
    /* The output and scratch space held the password's hash state. */
    explicit_bzero(data, sizeof *data);
    free(data);
    return rc;
}
