#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include "CFileBirth.h"

int file_birth(const char *path, long long *seconds, long *nanoseconds) {
    struct statx info;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &info) != 0) return -1;
    if (!(info.stx_mask & STATX_BTIME)) return -1;
    *seconds = info.stx_btime.tv_sec;
    *nanoseconds = info.stx_btime.tv_nsec;
    return 0;
}
