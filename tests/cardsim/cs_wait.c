/* --wait-reader: waits until pcscd shows readers whose names start with a
 * prefix holding a card, so test scripts need no pcsc_scan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winscard.h>

#include "tests/cardsim/cardsim.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static bool card_present(SCARDCONTEXT ctx, const char *reader)
{
	SCARD_READERSTATE rs;

	memset(&rs, 0, sizeof(rs));
	rs.szReader = reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	if (SCardGetStatusChange(ctx, 0, &rs, 1) != SCARD_S_SUCCESS)
		return false;
	return (rs.dwEventState & SCARD_STATE_PRESENT) && !(rs.dwEventState & SCARD_STATE_MUTE);
}

/* Prints the matching readers with a card when there are enough; returns the count found. */
static int scan_once(SCARDCONTEXT ctx, const char *prefix, int cards, bool print)
{
	char *list = NULL, *r;
	DWORD len = 0;
	int found = 0;

	if (SCardListReaders(ctx, NULL, NULL, &len) != SCARD_S_SUCCESS || len == 0)
		return 0;
	list = calloc(1, len + 1);
	if (list == NULL || SCardListReaders(ctx, NULL, list, &len) != SCARD_S_SUCCESS)
		goto out;
	for (r = list; *r != '\0' && found < cards; r += strlen(r) + 1) {
		if (strncmp(r, prefix, strlen(prefix)) != 0 || !card_present(ctx, r))
			continue;
		if (print)
			printf("%s\n", r);
		found++;
	}
out:
	free(list);
	return found;
}

int cs_wait_reader(const char *prefix, int cards, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	SCARDCONTEXT ctx = 0;
	bool have_ctx = false;
	struct timespec pause = { 0, 100 * 1000000L };

	for (;;) {
		if (!have_ctx)
			have_ctx = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) == SCARD_S_SUCCESS;
		if (have_ctx && scan_once(ctx, prefix, cards, false) >= cards) {
			scan_once(ctx, prefix, cards, true);
			SCardReleaseContext(ctx);
			return 0;
		}
		if (have_ctx) {
			SCardReleaseContext(ctx);
			have_ctx = false;
		}
		if (now_ms() >= deadline)
			return -1;
		nanosleep(&pause, NULL);
	}
}
