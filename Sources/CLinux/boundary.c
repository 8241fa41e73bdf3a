/* Calls whose C structs or addresses Swift would otherwise handle through raw pointers: socket
 * addresses, directory entries, iovec arrays, crypt(3)'s scratch space, madvise's address, the
 * journal's data (pointers into its mapping, copied out here). */
#include "clinux.h"
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <stdint.h>
#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-login.h>
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

char *clinux_own_unit(void) {
    char *unit = NULL;
    return sd_pid_get_unit(0, &unit) >= 0 ? unit : NULL;
}

int clinux_boot_id(char *out) {
    sd_id128_t id;
    int rc = sd_id128_get_boot(&id);
    if (rc < 0) return rc;
    sd_id128_to_string(id, out);
    return 0;
}

long clinux_journal_field(struct sd_journal *j, const char *field, unsigned char *out, size_t out_size) {
    const void *data = NULL;
    size_t len = 0;
    int rc = sd_journal_get_data(j, field, &data, &len);
    if (rc < 0) return rc;
    size_t prefix = strlen(field) + 1;
    if (len < prefix) return -EBADMSG;
    size_t value = len - prefix;
    memcpy(out, (const unsigned char *)data + prefix, value < out_size ? value : out_size);
    return (long)value;
}

long clinux_journal_entry(struct sd_journal *j, unsigned char *out, size_t out_size) {
    const void *data = NULL;
    size_t len = 0, used = 0;
    sd_journal_restart_data(j);
    while (sd_journal_enumerate_data(j, &data, &len) > 0) {
        if (len > UINT32_MAX) continue;
        if (used + 4 + len <= out_size) {
            uint32_t n = (uint32_t)len;
            for (int i = 0; i < 4; i++) out[used + i] = (unsigned char)(n >> (8 * i));
            memcpy(out + used + 4, data, len);
        }
        used += 4 + len;
    }
    return (long)used;
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
