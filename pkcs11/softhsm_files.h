/*
 * SoftHSM's file store rewrites a token's token.object in place (cut to
 * nothing, then written again) at every login, PIN change and
 * initialisation. A process killed in between leaves it cut short, and
 * with it the token's PIN records and the wrapped key that opens every
 * object on it: the token and its keys would be lost. signet keeps the
 * last whole token.object of each token under state_dir/softhsm-copies
 * (one directory per token directory) and, before its
 * SoftHSM reads the tokens, puts that copy back in place of one that no
 * longer holds a whole token, under SoftHSM's own lock on the token.
 */
#ifndef SIGNET_SOFTHSM_FILES_H
#define SIGNET_SOFTHSM_FILES_H

/*
 * Learns where SoftHSM keeps its tokens (the configuration file it is
 * about to read), mends every token file a killed process cut short, and
 * keeps a copy of each whole one. Call before SoftHSM's C_Initialize.
 * Nothing is done for SoftHSM's database store, or when either path is
 * unusable (a log line says so).
 */
void shf_prepare(const char *softhsm_conf, const char *state_dir);

/* After a SoftHSM call that rewrites token files: the copies follow the whole files. */
void shf_keep(void);

#endif
