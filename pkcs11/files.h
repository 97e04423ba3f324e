/*
 * Files signet keeps for the user (the card cache, SoftHSM's configuration
 * and the copies of its token files): private directories made on first
 * use, private files read whole, and files replaced in one step.
 */
#ifndef SIGNET_FILES_H
#define SIGNET_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Makes path and its missing parents, mode 0700. 0, or the errno of the mkdir that failed. */
int files_make_dir(const char *path);

/*
 * The whole file at path (at most max bytes) into *data (malloc'd), if it
 * is a regular file of this user that nobody else can write; false
 * otherwise, errno ENOENT when there is none and EPERM when it is not such
 * a file. Links are not followed.
 */
bool files_read_private(const char *path, size_t max, uint8_t **data, size_t *len);

/* Writes all of data to fd, again after EINTR; false with errno set (ENOSPC when nothing more goes). */
bool files_write_all(int fd, const void *data, size_t len);

/*
 * Replaces the file at path with data, mode 0600: written under another
 * name in the same directory, then renamed over it, so that a reader, or
 * a process killed on the way, sees the old file or the new one whole.
 */
bool files_replace(const char *path, const void *data, size_t len);

#endif
