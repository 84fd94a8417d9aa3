/*
 * Helpers shared by the dxforge C tests: temporary projects, reserved ports,
 * polling with a deadline.
 */
#ifndef DXFORGE_TEST_SUPPORT_H
#define DXFORGE_TEST_SUPPORT_H

#include <stdio.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A fresh empty directory under $TMPDIR (or /tmp); `buf` receives its path. */
static inline const char *make_temp_dir(char *buf, size_t size) {
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, size, "%s/dxforge-c-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(buf);
}

/* Removes a directory tree made by a test (paths are ours; no quoting issues). */
static inline void remove_tree(const char *path) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) {
        fprintf(stderr, "warning: could not remove %s\n", path);
    }
}

/*
 * Loopback ports without a bind-drop-rebind race: each port handed out stays
 * bound (SO_REUSEPORT, never listening) in `held` until release_ports(), so
 * no other test is given it meanwhile. The tool binds beside it with
 * SO_REUSEPORT and, as the only listener, receives every connection; until it
 * listens a TCP health check is refused.
 */
#ifndef SO_REUSEPORT
/* Linux's value; strict -D_XOPEN_SOURCE hides the name, not the option. */
#define SO_REUSEPORT 15
#endif
#define MAX_RESERVED_PORTS 8
struct reserved_ports {
    int fds[MAX_RESERVED_PORTS];
    int count;
};

/* A reserved port, or -1 when none could be reserved. */
static inline int reserve_port(struct reserved_ports *held) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int one = 1;
    int fd;
    if (held->count == MAX_RESERVED_PORTS) {
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close(fd);
        return -1;
    }
    held->fds[held->count++] = fd;
    return ntohs(addr.sin_port);
}

/* Gives back every port reserved in `held`. */
static inline void release_ports(struct reserved_ports *held) {
    while (held->count > 0) {
        close(held->fds[--held->count]);
    }
}

static inline double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* Writes `text` to `path`; returns 0 on success. */
static inline int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fputs(text, f);
    return fclose(f);
}

/* The whole content of `path` (NUL-terminated, caller frees) or NULL; `*len` gets its size. */
static inline char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;
    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = (char *)malloc((size_t)size + 1)) != NULL) {
        size_t got = fread(buf, 1, (size_t)size, f);
        buf[got] = '\0';
        if (len) {
            *len = got;
        }
    }
    fclose(f);
    return buf;
}

static inline int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Creates a directory (one level); 1 when it exists afterwards. */
static inline int mkdir_p_ok(const char *path) {
    return mkdir(path, 0755) == 0 || errno == EEXIST;
}

#endif
