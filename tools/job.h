/*
 * Work that changes a token's keys and certificates: a logged-in
 * read-write session, the choice of the ID, and the rule that what holds
 * that ID already is replaced only with --replace, after the user has seen
 * what goes and typed the token's label back (or given --yes). The old
 * objects are deleted only once the new ones are in place.
 */
#ifndef SIGNET_TOOLS_JOB_H
#define SIGNET_TOOLS_JOB_H

#include "tools/module.h"
#include "tools/tool.h"

struct key_job {
	CK_SESSION_HANDLE session;
	bool open, logged_in;
	bool card;             /* IDs are the card's key slots */
	char id_hex[129];      /* the chosen ID, for messages */
	CK_OBJECT_HANDLE *old; /* what held the ID before */
	size_t nold;
};

/* The selected token, a read-write session and the user's login. */
int job_open(struct tool *t, struct token *tok, struct key_job *job);

/* Logs out and closes; safe after a failed job_open. */
void job_close(struct tool *t, struct key_job *job);

/*
 * The ID to use: --id, else the lowest one-byte ID no object has (on a
 * card: the first free key slot of 9A, 9C, 9D, 9E, 82..95). Records
 * the objects that hold it already.
 */
int job_choose_id(struct tool *t, struct key_job *job, uint8_t *id, size_t cap, size_t *len);

/* Nothing holds the ID, or --replace was given and the user confirmed; EXIT_REFUSED otherwise. */
int job_confirm_replace(struct tool *t, const struct token *tok, struct key_job *job, const char *action);

/* Deletes what held the ID before. */
int job_remove_old(struct tool *t, struct key_job *job);

#endif
