/* Files the tool reads and writes: certificates (PEM or DER), requests, signatures, documents. */
#ifndef SIGNET_TOOLS_FILES_H
#define SIGNET_TOOLS_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/digest.h"
#include "crypto/x509.h"

/* The whole file (at most 64 MiB) into a malloc'd buffer; a message names the file on failure. */
int file_read(const char *path, struct cr_bytes *out);

/* Writes data to path, or to standard output when path is NULL or "-". */
int file_write(const char *path, const uint8_t *data, size_t len);

/* DER wrapped as PEM with the given label ("CERTIFICATE REQUEST"). */
int pem_wrap(const char *label, const uint8_t *der, size_t len, struct cr_bytes *out);

/* The first certificate of a PEM file, or the file itself when it is DER; *der is malloc'd. */
int cert_from_file(const char *path, struct cr_bytes *der);

/* Hashes a file of any size with h; *len: capacity in, size out. */
int hash_file(const char *path, enum cr_hash h, uint8_t *out, size_t *len);

/* "FILE.sig" and the like: path with suffix appended, in a malloc'd string. */
char *path_with_suffix(const char *path, const char *suffix);

#endif
