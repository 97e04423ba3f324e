/* signet-cardsim: command line, the vpcd connection and the signal-driven
 * "pull / insert" of the card.
 *
 * vpcd (loaded by pcscd) listens on a TCP port; the card connects to it.
 * Frames in both directions are a 2-byte big-endian length and the bytes.
 * A 1-byte frame from vpcd is a control byte (00 off, 01 on, 02 reset,
 * 04 ATR request, only the last is answered); anything else is an APDU.
 *
 * Signals: SIGUSR1 pulls the card (closes the connection and stays out),
 * SIGUSR2 inserts it again, SIGHUP re-reads the fault file <state>.fault,
 * SIGTERM/SIGINT end the program. After every APDU the number of APDUs
 * processed since start is written to <state>.count. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "crypto/wipe.h"
#include "tests/cardsim/cardsim.h"

#define DEFAULT_PORT 35963
#define RETRY_MS 100
/* Out longer than pcscd's presence polling (400 ms), so it sees the removal. */
#define DROP_OUT_MS 1000
#define MAX_FRAME 65535

static const uint8_t yubikey5_atr[] = { 0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0,
					0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40 };
/* The same with "PIVcard" in place of "YubiKey" in the historical bytes (and its TCK). */
static const uint8_t plain_piv_atr[] = { 0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0,
					 0x21, 0xC0, 0x57, 0x50, 0x49, 0x56, 0x63, 0x61, 0x72, 0x64, 0x6B };

static volatile sig_atomic_t want_present = 1;
static volatile sig_atomic_t want_quit;
static volatile sig_atomic_t want_fault_reload;

struct options {
	const char *state;
	int port;
	bool personalize_default;
	long latency_ms;
	bool no_extended;
	bool no_touch;
	bool preselected;
	bool keep_status_on_reselect;
	bool plain_piv;
	const char *fault;
	bool trace;
	const char *wait_reader;
	const char *apdu_reader;
	int wait_cards;
	int wait_timeout_ms;
	bool wait_absent;
};

static unsigned long apdu_count;
static bool dropped; /* the last connection ended by the "drop" fault */

void cs_log(const char *fmt, ...)
{
	va_list ap;

	fputs("signet-cardsim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_present = 0;
	else if (sig == SIGUSR2)
		want_present = 1;
	else if (sig == SIGHUP)
		want_fault_reload = 1;
	else
		want_quit = 1;
}

static void install_signals(void)
{
	static const int sigs[] = { SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Parses "MODE" or "MODE:INS" (INS in hex). Returns 0 or -1. */
static int parse_fault(const char *spec, enum cs_fault *mode, int *ins)
{
	static const struct {
		const char *name;
		enum cs_fault mode;
	} modes[] = { { "none", FAULT_NONE },	    { "truncate", FAULT_TRUNCATE }, { "bad-length", FAULT_BAD_LENGTH },
		      { "garbage-sw", FAULT_GARBAGE_SW }, { "short", FAULT_SHORT },	    { "no-data", FAULT_NO_DATA },
		      { "drop", FAULT_DROP } };
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec), i;
	char *end;
	long v;

	*ins = -1;
	if (colon != NULL) {
		v = strtol(colon + 1, &end, 16);
		if (*end != '\0' || end == colon + 1 || v < 0 || v > 0xFF)
			return -1;
		*ins = (int)v;
	}
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strlen(modes[i].name) == n && strncmp(modes[i].name, spec, n) == 0) {
			*mode = modes[i].mode;
			return 0;
		}
	}
	return -1;
}

static void reload_fault(struct cs_card *c)
{
	char path[4096], line[64];
	enum cs_fault mode;
	FILE *f;
	int ins;

	snprintf(path, sizeof(path), "%s.fault", c->state_path);
	f = fopen(path, "re");
	if (f == NULL) {
		c->fault = FAULT_NONE;
		c->fault_ins = -1;
		return;
	}
	if (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (parse_fault(line, &mode, &ins) == 0) {
			c->fault = mode;
			c->fault_ins = ins;
		} else {
			cs_log("bad fault spec in %s", path);
		}
	}
	fclose(f);
}

static void write_count(const struct cs_card *c)
{
	char path[4096], tmp[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s.count", c->state_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (f == NULL)
		return;
	fprintf(f, "%lu\n", apdu_count);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static void trace_bytes(const char *dir, const uint8_t *p, size_t n, bool redact)
{
	size_t i, show = n;

	if (redact && n > 5)
		show = 5;
	fprintf(stderr, "%s", dir);
	for (i = 0; i < show; i++)
		fprintf(stderr, " %02X", p[i]);
	if (show < n)
		fprintf(stderr, " [%zu bytes not shown]", n - show);
	fputc('\n', stderr);
}

static void trace_response(const uint8_t *p, size_t n, bool redact)
{
	if (redact && n > 2) {
		fprintf(stderr, "< [%zu bytes not shown] %02X %02X\n", n - 2, p[n - 2], p[n - 1]);
		return;
	}
	trace_bytes("<", p, n, false);
}

static int connect_vpcd(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Reads exactly n bytes. Returns 0, -1 on EOF/error, -2 when the card is pulled or the program ends. */
static int read_full(int fd, uint8_t *p, size_t n)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t got;

	while (n > 0) {
		if (!want_present || want_quit)
			return -2;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		/* vpcd writes the length and the frame separately; acknowledge at
		 * once so its second write does not wait for a delayed ACK. */
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &(int){ 1 }, sizeof(int));
		got = read(fd, p, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
	ssize_t put;

	while (n > 0) {
		put = write(fd, p, n);
		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return -1;
		p += put;
		n -= (size_t)put;
	}
	return 0;
}

/* Sends length and frame in one write (one TCP segment when small). */
static int send_frame(int fd, const uint8_t *p, size_t n)
{
	uint8_t *msg;
	int rc;

	if (n > MAX_FRAME)
		return -1;
	msg = malloc(n + 2);
	if (msg == NULL)
		return -1;
	msg[0] = (uint8_t)(n >> 8);
	msg[1] = (uint8_t)n;
	memcpy(msg + 2, p, n);
	rc = write_full(fd, msg, n + 2);
	cr_free_secret(msg, n + 2);
	return rc;
}

static int handle_apdu(struct cs_card *c, const struct options *opt, int fd, const uint8_t *apdu, size_t n)
{
	bool secret = cs_apdu_is_sensitive(apdu, n);
	struct buf out;
	int rc;

	/* The signal may have come while this APDU was on its way. */
	if (want_fault_reload) {
		want_fault_reload = 0;
		reload_fault(c);
	}
	if (opt->latency_ms > 0)
		sleep_ms(opt->latency_ms);
	if (opt->trace)
		trace_bytes(">", apdu, n, secret);
	if (c->fault == FAULT_DROP && (c->fault_ins < 0 || c->fault_ins == apdu[1])) {
		cs_log("fault: connection dropped instead of an answer");
		dropped = true;
		apdu_count++;
		write_count(c);
		return -1;
	}
	buf_init(&out);
	cs_card_process(c, apdu, n, &out);
	if (!buf_ok(&out) || out.len == 0) {
		buf_reset(&out);
		buf_put_u16be(&out, SW_UNKNOWN);
	}
	if (opt->trace)
		trace_response(out.d, out.len, secret);
	if (c->dirty) {
		cs_state_save(c, c->state_path);
		c->dirty = false;
	}
	apdu_count++;
	write_count(c);
	rc = buf_ok(&out) ? send_frame(fd, out.d, out.len) : -1;
	buf_free(&out);
	return rc;
}

/* Serves one vpcd connection until it closes or the card is pulled. */
static void serve(struct cs_card *c, const struct options *opt, int fd)
{
	uint8_t hdr[2], *frame = malloc(MAX_FRAME);
	size_t n;

	if (frame == NULL)
		goto out;
	for (;;) {
		if (read_full(fd, hdr, 2) != 0)
			break;
		n = (size_t)hdr[0] << 8 | hdr[1];
		if (read_full(fd, frame, n) != 0)
			break;
		if (n == 1 && frame[0] == 0x04) {
			if ((c->plain_piv ? send_frame(fd, plain_piv_atr, sizeof(plain_piv_atr))
					  : send_frame(fd, yubikey5_atr, sizeof(yubikey5_atr))) != 0)
				break;
		} else if (n == 1 && frame[0] <= 0x02) {
			cs_card_power_event(c);
		} else if (n == 1) {
			/* Not a control byte vpcd sends: answer like a card to a bad APDU. */
			if (send_frame(fd, (const uint8_t[]){ 0x67, 0x00 }, 2) != 0)
				break;
		} else if (n > 1 && handle_apdu(c, opt, fd, frame, n) != 0) {
			break;
		}
		cr_wipe(frame, n);
	}
out:
	if (frame != NULL)
		cr_free_secret(frame, MAX_FRAME);
}

static void run_card(struct cs_card *c, const struct options *opt)
{
	bool was_connected = false;
	int fd;

	while (!want_quit) {
		if (want_fault_reload) {
			want_fault_reload = 0;
			reload_fault(c);
		}
		if (!want_present) {
			sleep_ms(RETRY_MS);
			continue;
		}
		fd = connect_vpcd(opt->port);
		if (fd < 0) {
			if (was_connected)
				cs_log("vpcd on port %d gone, retrying", opt->port);
			was_connected = false;
			sleep_ms(RETRY_MS);
			continue;
		}
		if (!was_connected)
			cs_log("card inserted (vpcd port %d)", opt->port);
		was_connected = true;
		cs_card_power_event(c);
		serve(c, opt, fd);
		close(fd);
		cs_card_power_event(c);
		if (!want_present)
			cs_log("card pulled");
		was_connected = want_present && !want_quit;
		if (was_connected)
			sleep_ms(dropped ? DROP_OUT_MS : RETRY_MS);
		dropped = false;
	}
}

static int new_card(struct cs_card *c, bool personalize)
{
	uint8_t b[4];

	cs_card_defaults(c);
	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	c->serial = 10000000u + ((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]) % 80000000u;
	if (cs_make_attestation_key(c) != 0)
		return -1;
	if (personalize && cs_personalize_default(c) != 0)
		return -1;
	return cs_state_save(c, c->state_path);
}

static void usage(FILE *f)
{
	fputs("usage: signet-cardsim --state FILE [--port N] [--personalize empty|default]\n"
	      "                      [--latency MS] [--no-extended] [--no-touch] [--fault MODE[:INS]]\n"
	      "                      [--trace] [--preselected] [--keep-status-on-reselect] [--plain-piv]\n"
	      "       signet-cardsim --wait-reader PREFIX [--cards N] [--timeout MS] [--absent]\n"
	      "       signet-cardsim --apdu READER [HEX-APDU...]   (none: one per stdin line)\n"
	      "fault modes: none truncate bad-length garbage-sw short no-data drop\n",
	      f);
}

static int parse_int(const char *s, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 0);
	return (errno != 0 || *end != '\0' || end == s || *v < lo || *v > hi) ? -1 : 0;
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longs[] = {
		{ "state", required_argument, NULL, 's' },	{ "port", required_argument, NULL, 'p' },
		{ "personalize", required_argument, NULL, 'P' }, { "latency", required_argument, NULL, 'l' },
		{ "no-extended", no_argument, NULL, 'n' },	{ "no-touch", no_argument, NULL, 'N' },	{ "fault", required_argument, NULL, 'f' },
		{ "trace", no_argument, NULL, 't' },		{ "wait-reader", required_argument, NULL, 'w' },
		{ "cards", required_argument, NULL, 'c' },	{ "timeout", required_argument, NULL, 'T' },
		{ "apdu", required_argument, NULL, 'a' },	{ "absent", no_argument, NULL, 'A' },	{ "help", no_argument, NULL, 'h' },
		{ "preselected", no_argument, NULL, 'S' },	{ "keep-status-on-reselect", no_argument, NULL, 'K' },
		{ "plain-piv", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	enum cs_fault mode;
	long v;
	int ch, ins;

	*opt = (struct options){ .port = DEFAULT_PORT, .wait_cards = 1, .wait_timeout_ms = 10000 };
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 's':
			opt->state = optarg;
			break;
		case 'p':
			if (parse_int(optarg, 1, 65535, &v) != 0)
				return -1;
			opt->port = (int)v;
			break;
		case 'P':
			if (strcmp(optarg, "default") != 0 && strcmp(optarg, "empty") != 0)
				return -1;
			opt->personalize_default = strcmp(optarg, "default") == 0;
			break;
		case 'l':
			if (parse_int(optarg, 0, 60000, &opt->latency_ms) != 0)
				return -1;
			break;
		case 'n':
			opt->no_extended = true;
			break;
		case 'N':
			opt->no_touch = true;
			break;
		case 'S':
			opt->preselected = true;
			break;
		case 'K':
			opt->keep_status_on_reselect = true;
			break;
		case 'V':
			opt->plain_piv = true;
			break;
		case 'f':
			if (parse_fault(optarg, &mode, &ins) != 0)
				return -1;
			opt->fault = optarg;
			break;
		case 't':
			opt->trace = true;
			break;
		case 'w':
			opt->wait_reader = optarg;
			break;
		case 'c':
			if (parse_int(optarg, 1, 16, &v) != 0)
				return -1;
			opt->wait_cards = (int)v;
			break;
		case 'T':
			if (parse_int(optarg, 0, 3600000, &v) != 0)
				return -1;
			opt->wait_timeout_ms = (int)v;
			break;
		case 'a':
			opt->apdu_reader = optarg;
			break;
		case 'A':
			opt->wait_absent = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (opt->apdu_reader != NULL)
		return 0;
	if (optind != argc || (opt->state == NULL && opt->wait_reader == NULL))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct cs_card card;
	struct options opt;
	int rc;

	if (parse_options(argc, argv, &opt) != 0) {
		usage(stderr);
		return 2;
	}
	if (opt.apdu_reader != NULL)
		return cs_send_apdus(opt.apdu_reader, argv + optind, argc - optind) == 0 ? 0 : 1;
	if (opt.wait_reader != NULL)
		return cs_wait_reader(opt.wait_reader, opt.wait_cards, opt.wait_timeout_ms, opt.wait_absent) == 0 ? 0 : 1;
	setvbuf(stderr, NULL, _IOLBF, 0);
	card.state_path = opt.state;
	card.no_extended = opt.no_extended;
	card.no_touch = opt.no_touch;
	card.preselected = opt.preselected;
	card.keep_status_on_reselect = opt.keep_status_on_reselect;
	card.plain_piv = opt.plain_piv;
	card.trace = opt.trace;
	card.fault_ins = -1;
	if (opt.fault != NULL)
		parse_fault(opt.fault, &card.fault, &card.fault_ins);
	cs_card_defaults(&card);
	rc = cs_state_load(&card, opt.state);
	if (rc == 1)
		rc = new_card(&card, opt.personalize_default);
	if (rc != 0) {
		cs_log("cannot use state file %s", opt.state);
		cs_card_free(&card);
		return 1;
	}
	install_signals();
	run_card(&card, &opt);
	cs_card_free(&card);
	return 0;
}
