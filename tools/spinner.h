/*
 * A spinner with the elapsed time for slow token work (an RSA-4096 key on
 * a card takes up to a minute), on stderr when it is a terminal and
 * nowhere otherwise, so that pipes and logs stay clean.
 */
#ifndef SIGNET_TOOLS_SPINNER_H
#define SIGNET_TOOLS_SPINNER_H

struct spinner;

/* Starts spinning "what" (NULL when stderr is not a terminal, or on failure). */
struct spinner *spinner_start(const char *what);

/* Stops it and clears its line; NULL is fine. */
void spinner_stop(struct spinner *s);

#endif
