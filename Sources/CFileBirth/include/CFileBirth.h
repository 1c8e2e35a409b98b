#ifndef C_FILE_BIRTH_H
#define C_FILE_BIRTH_H

/// When the file at `path` (not followed if a symlink) was created, from statx(2): 0 and the
/// time in `seconds` and `nanoseconds`; -1 when the system or the file system does not say.
int file_birth(const char *path, long long *seconds, long *nanoseconds);

#endif
