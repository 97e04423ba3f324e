/* Two tiny pcsc-lite clients for test scripts: --wait-reader waits until
 * pcscd shows readers with a card (no pcsc_scan needed), --apdu sends raw
 * APDUs and prints the raw responses in hex, one line each. */
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

int cs_wait_reader(const char *prefix, int cards, int timeout_ms, bool absent)
{
	long deadline = now_ms() + timeout_ms;
	SCARDCONTEXT ctx = 0;
	bool have_ctx = false;
	struct timespec pause = { 0, 100 * 1000000L };

	for (;;) {
		if (!have_ctx)
			have_ctx = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) == SCARD_S_SUCCESS;
		if (have_ctx && absent && scan_once(ctx, prefix, 1, false) == 0) {
			SCardReleaseContext(ctx);
			return 0;
		}
		if (have_ctx && !absent && scan_once(ctx, prefix, cards, false) >= cards) {
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

/* Parses hex (spaces and colons allowed) into out; returns the length or -1. */
static long parse_hex_apdu(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == ':' || *s == '\t' || *s == '\n' || *s == '\r')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? (long)n : -1;
}

static int send_one(SCARDHANDLE h, DWORD proto, const char *hex)
{
	static uint8_t cmd[MAX_BUFFER_SIZE_EXTENDED], resp[MAX_BUFFER_SIZE_EXTENDED];
	DWORD rlen = sizeof(resp), i;
	long n = parse_hex_apdu(hex, cmd, sizeof(cmd));
	LONG rv;

	/* vpcd carries a 1-byte message as a control byte, never as an APDU. */
	if (n < 2) {
		printf("BADAPDU\n");
		fflush(stdout);
		return -1;
	}
	rv = SCardTransmit(h, proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1, cmd, (DWORD)n, NULL, resp,
			   &rlen);
	if (rv != SCARD_S_SUCCESS) {
		printf("ERR %08lX\n", (unsigned long)rv);
	} else {
		if (rlen == 0)
			printf("EMPTY");
		for (i = 0; i < rlen; i++)
			printf("%02X", resp[i]);
		printf("\n");
	}
	/* A script waits for each answer before it sends the next APDU. */
	fflush(stdout);
	return 0;
}

int cs_send_apdus(const char *reader, char **apdus, int count)
{
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
	DWORD proto;
	char *line = NULL;
	size_t cap = 0;
	int i, rc = -1;

	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) != SCARD_S_SUCCESS)
		return -1;
	if (SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto) !=
	    SCARD_S_SUCCESS)
		goto out_ctx;
	rc = 0;
	for (i = 0; i < count && rc == 0; i++)
		rc = send_one(h, proto, apdus[i]);
	while (count == 0 && rc == 0 && getline(&line, &cap, stdin) > 0)
		rc = send_one(h, proto, line);
	free(line);
	SCardDisconnect(h, SCARD_LEAVE_CARD);
out_ctx:
	SCardReleaseContext(ctx);
	return rc;
}
