/* pcsc_piv READER|- STEP...: drives a PIV card through the module's PC/SC
 * transport and PIV layer, one step per argument, and prints one line per
 * step so integration tests can compare exact outcomes. A failing step is
 * reported, not fatal: tests assert on the printed results. With "-" for
 * READER no card is connected and only the steps that need none can run.
 *
 * Steps:
 *   atr                 print the ATR; use extended APDUs if it offers them
 *   extended:on|off     force extended APDUs on or off
 *   log                 write the APDU log to stderr
 *   select              SELECT the PIV application now (the PIV layer selects it
 *                       by itself before the first command of each card session;
 *                       on a YubiKey this SELECT logs the PIN out)
 *   verify:PIN          VERIFY the PIN
 *   status              empty VERIFY: is the PIN verified, how many tries left
 *   begin / end         hold / release exclusive access to the card
 *   cert:SLOT:FILE      read the certificate of key SLOT (hex) into FILE (DER)
 *   sign:SLOT:ALG:IN:OUT  GENERAL AUTHENTICATE with the bytes of IN, result to OUT
 *   mgmt:HEXKEY         mutual management-key authentication (3DES)
 *   mgmt1:HEXKEY        one-way management-key authentication (3DES)
 *   gen:SLOT:ALG:PIN:TOUCH:FILE  generate a key; its EC point / 25519 key to FILE
 *   ecdh:SLOT:ALG:IN:OUT  key agreement with the peer point in IN
 *   put:TAG:FILE        PUT DATA of the bytes in FILE (empty file: delete)
 *   get:TAG:FILE        GET DATA into FILE
 *   meta:SLOT           YubiKey GET METADATA, summarised
 *   version / serial    YubiKey GET VERSION / GET SERIAL
 *   count / count0      print / reset the number of APDUs sent
 *   readers             list the readers
 *   present             is a card in READER
 *   poll:MS             wait up to MS for a reader or card change
 *   touch:FILE          create FILE (tells the test script we got here)
 *   wait:FILE           wait up to 30 s for FILE to exist
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apdu/pcsc.h"
#include "apdu/piv.h"
#include "apdu/tlv.h"
#include "crypto/wipe.h"

struct session {
	const char *reader;
	struct pcsc_ctx *ctx;
	struct pcsc_card *card;
	struct apdu_chan chan;
	struct piv_card piv;
};

static void log_to_stderr(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

static void report(const char *step, int rc)
{
	printf("%s: %s\n", step, rc == PIV_OK ? "ok" : piv_rc_name(rc));
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return PIV_E_INVALID;
	*len = fread(buf, 1, cap, f);
	fclose(f);
	return PIV_OK;
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return PIV_E_INVALID;
	ok = fwrite(buf, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	return ok ? PIV_OK : PIV_E_INVALID;
}

/* Once rc is PIV_OK, writes data to path; then reports "step: ok N bytes" or what failed. */
static void report_written(const char *step, int rc, const char *path, const uint8_t *data, size_t len)
{
	if (rc == PIV_OK)
		rc = write_file(path, data, len);
	if (rc == PIV_OK)
		printf("%s: ok %zu bytes\n", step, len);
	else
		report(step, rc);
}

static uint32_t cert_object(unsigned slot)
{
	switch (slot) {
	case 0x9A: return PIV_OBJ_CERT_9A;
	case 0x9C: return PIV_OBJ_CERT_9C;
	case 0x9D: return PIV_OBJ_CERT_9D;
	case 0x9E: return PIV_OBJ_CERT_9E;
	default: return 0;
	}
}

static void step_cert(struct session *s, const char *arg)
{
	static uint8_t obj[PIV_OBJECT_MAX];
	char path[512];
	unsigned slot;
	const uint8_t *der;
	size_t len = 0, der_len;
	int rc;

	if (sscanf(arg, "%x:%511s", &slot, path) != 2 || cert_object(slot) == 0) {
		report("cert", PIV_E_INVALID);
		return;
	}
	rc = piv_get_data(&s->piv, cert_object(slot), obj, sizeof(obj), &len);
	if (rc == PIV_OK && tlv_find(obj, len, 0x70, &der, &der_len) != 1)
		rc = PIV_E_MALFORMED;
	report_written("cert", rc, path, der, der_len);
}

/*
 * "slot:alg:in-file:out-file": op with the key in slot on up to cap bytes
 * of in-file, the result written to out-file and wiped.
 */
static void step_key_op(struct session *s, const char *step, const char *arg, size_t cap,
			int (*op)(struct piv_card *, uint8_t, uint8_t, const uint8_t *, size_t, uint8_t *, size_t,
				  size_t *))
{
	uint8_t in[1024], out[1024];
	char in_path[256], out_path[256];
	unsigned slot, alg;
	size_t in_len = 0, out_len = 0;
	int rc;

	if (cap > sizeof(in) || sscanf(arg, "%x:%x:%255[^:]:%255s", &slot, &alg, in_path, out_path) != 4) {
		report(step, PIV_E_INVALID);
		return;
	}
	rc = read_file(in_path, in, cap, &in_len);
	if (rc == PIV_OK)
		rc = op(&s->piv, (uint8_t)alg, (uint8_t)slot, in, in_len, out, cap, &out_len);
	report_written(step, rc, out_path, out, out_len);
	cr_wipe(out, sizeof(out));
}

static void step_verify(struct session *s, const char *pin)
{
	int tries = -1;
	int rc = piv_verify(&s->piv, PIV_REF_PIN, (const uint8_t *)pin, strlen(pin), &tries);

	if (rc == PIV_E_PIN_INCORRECT)
		printf("verify: wrong PIN tries=%d\n", tries);
	else
		report("verify", rc);
}

static void step_status(struct session *s)
{
	bool verified = false;
	int tries = -1;
	int rc = piv_pin_status(&s->piv, PIV_REF_PIN, &verified, &tries);

	if (rc == PIV_OK)
		printf("status: verified=%d tries=%d\n", verified ? 1 : 0, tries);
	else
		report("status", rc);
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(hex), i;

	if (n % 2 != 0 || n / 2 > cap)
		return PIV_E_INVALID;
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return PIV_E_INVALID;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return PIV_OK;
}

static void step_mgmt(struct session *s, const char *hex, bool mutual)
{
	uint8_t key[32];
	size_t len = 0;
	int rc = hex_to_bytes(hex, key, sizeof(key), &len);

	if (rc == PIV_OK)
		rc = piv_mgmt_auth(&s->piv, PIV_ALG_3DES, key, len, mutual);
	cr_wipe(key, sizeof(key));
	report(mutual ? "mgmt" : "mgmt1", rc);
}

static void step_gen(struct session *s, const char *arg)
{
	static uint8_t resp[2048];
	unsigned slot, alg, pin_policy, touch_policy;
	struct piv_pubkey pk;
	char path[256];
	int rc;

	if (sscanf(arg, "%x:%x:%u:%u:%255s", &slot, &alg, &pin_policy, &touch_policy, path) != 5) {
		report("gen", PIV_E_INVALID);
		return;
	}
	rc = piv_generate(&s->piv, (uint8_t)slot, (uint8_t)alg, (uint8_t)pin_policy, (uint8_t)touch_policy,
			  resp, sizeof(resp), &pk);
	if (rc == PIV_OK && pk.point == NULL)
		rc = PIV_E_INVALID; /* RSA keys are not written out by this step */
	report_written("gen", rc, path, pk.point, pk.point_len);
}

static void step_put(struct session *s, const char *arg)
{
	static uint8_t obj[PIV_OBJECT_MAX];
	char path[256];
	unsigned tag;
	size_t len = 0;
	int rc;

	if (sscanf(arg, "%x:%255s", &tag, path) != 2) {
		report("put", PIV_E_INVALID);
		return;
	}
	rc = read_file(path, obj, sizeof(obj), &len);
	if (rc == PIV_OK)
		rc = piv_put_data(&s->piv, tag, obj, len);
	report("put", rc);
}

static void step_get(struct session *s, const char *arg)
{
	static uint8_t obj[PIV_OBJECT_MAX];
	char path[256];
	unsigned tag;
	size_t len = 0;
	int rc;

	if (sscanf(arg, "%x:%255s", &tag, path) != 2) {
		report("get", PIV_E_INVALID);
		return;
	}
	rc = piv_get_data(&s->piv, tag, obj, sizeof(obj), &len);
	report_written("get", rc, path, obj, len);
}

static void step_meta(struct session *s, const char *arg)
{
	uint8_t buf[1024];
	struct piv_metadata md;
	unsigned slot;
	int rc;

	if (sscanf(arg, "%x", &slot) != 1) {
		report("meta", PIV_E_INVALID);
		return;
	}
	rc = piv_get_metadata(&s->piv, (uint8_t)slot, buf, sizeof(buf), &md);
	if (rc != PIV_OK) {
		report("meta", rc);
		return;
	}
	printf("meta: alg=%02X pin=%d touch=%d origin=%d default=%d retries=%d/%d pub=%zu\n",
	       (unsigned)md.alg, md.pin_policy, md.touch_policy, md.origin, md.is_default,
	       md.retries_left, md.retries_total, md.pubkey_len);
}

static void step_serial(struct session *s)
{
	uint32_t serial = 0;
	int rc = piv_get_serial(&s->piv, &serial);

	if (rc == PIV_OK)
		printf("serial: %u\n", serial);
	else
		report("serial", rc);
}

static void step_atr(struct session *s)
{
	uint8_t atr[64];
	size_t len = 0, i;
	int rc = pcsc_card_atr(s->card, atr, sizeof(atr), &len);

	if (rc != APDU_OK) {
		printf("atr: %s\n", apdu_rc_name(rc));
		return;
	}
	piv_set_extended(&s->piv, piv_atr_extended(atr, len));
	printf("atr:");
	for (i = 0; i < len; i++)
		printf(" %02X", atr[i]);
	printf(" extended=%d\n", s->piv.extended ? 1 : 0);
}

static void step_version(struct session *s)
{
	uint8_t v[3];
	int rc = piv_get_version(&s->piv, v);

	if (rc == PIV_OK)
		printf("version: %u.%u.%u\n", v[0], v[1], v[2]);
	else
		report("version", rc);
}

static void step_readers(struct session *s)
{
	struct pcsc_readers r;
	size_t i;
	int rc = pcsc_list_readers(s->ctx, &r);

	if (rc != APDU_OK) {
		printf("readers: %s\n", apdu_rc_name(rc));
		return;
	}
	printf("readers: %zu\n", r.count);
	for (i = 0; i < r.count; i++)
		printf("reader: %s\n", r.names[i]);
	pcsc_readers_free(&r);
}

static void step_present(struct session *s)
{
	bool present = false;
	unsigned events = 0;
	int rc = pcsc_reader_status(s->ctx, s->reader, &present, &events);

	if (rc == APDU_OK)
		printf("present: %d\n", present ? 1 : 0);
	else
		printf("present: %s\n", apdu_rc_name(rc));
}

static void step_poll(struct session *s, const char *ms)
{
	int rc = pcsc_poll_changes(s->ctx, (unsigned)atoi(ms));

	if (rc >= 0)
		printf("poll: %d\n", rc);
	else
		printf("poll: %s\n", apdu_rc_name(rc));
}

static void step_wait(const char *path)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int i;

	for (i = 0; i < 1500 && access(path, F_OK) != 0; i++)
		nanosleep(&pause, NULL);
	printf("wait: %s\n", access(path, F_OK) == 0 ? "ok" : "timeout");
}

static void step_touch(const char *path)
{
	FILE *f;

	fflush(stdout);
	f = fopen(path, "w");
	if (f != NULL)
		fclose(f);
	printf("touch: %s\n", f != NULL ? "ok" : strerror(errno));
}

static bool needs_no_card(const char *step)
{
	static const char *const free_steps[] = { "readers", "poll:", "touch:", "wait:", "count" };
	size_t i;

	for (i = 0; i < sizeof(free_steps) / sizeof(free_steps[0]); i++)
		if (strncmp(step, free_steps[i], strlen(free_steps[i])) == 0)
			return true;
	return false;
}

static bool starts(const char *step, const char *prefix, const char **arg)
{
	size_t n = strlen(prefix);

	if (strncmp(step, prefix, n) != 0)
		return false;
	*arg = step + n;
	return true;
}

static int run_step(struct session *s, const char *step)
{
	const char *arg;

	if (s->card == NULL && !needs_no_card(step))
		printf("%s: no card\n", step);
	else if (strcmp(step, "atr") == 0)
		step_atr(s);
	else if (strcmp(step, "extended:on") == 0 || strcmp(step, "extended:off") == 0)
		piv_set_extended(&s->piv, strcmp(step, "extended:on") == 0);
	else if (strcmp(step, "log") == 0)
		apdu_set_logger(&s->chan, log_to_stderr, NULL);
	else if (strcmp(step, "select") == 0)
		report("select", piv_select(&s->piv, NULL, 0, NULL));
	else if (starts(step, "verify:", &arg))
		step_verify(s, arg);
	else if (strcmp(step, "status") == 0)
		step_status(s);
	else if (strcmp(step, "begin") == 0)
		report("begin", piv_begin(&s->piv));
	else if (strcmp(step, "end") == 0)
		report("end", piv_end(&s->piv));
	else if (starts(step, "cert:", &arg))
		step_cert(s, arg);
	else if (starts(step, "sign:", &arg))
		step_key_op(s, "sign", arg, 1024, piv_sign);
	else if (starts(step, "mgmt:", &arg))
		step_mgmt(s, arg, true);
	else if (starts(step, "mgmt1:", &arg))
		step_mgmt(s, arg, false);
	else if (starts(step, "gen:", &arg))
		step_gen(s, arg);
	else if (starts(step, "ecdh:", &arg))
		step_key_op(s, "ecdh", arg, 256, piv_ecdh);
	else if (starts(step, "put:", &arg))
		step_put(s, arg);
	else if (starts(step, "get:", &arg))
		step_get(s, arg);
	else if (starts(step, "meta:", &arg))
		step_meta(s, arg);
	else if (strcmp(step, "version") == 0)
		step_version(s);
	else if (strcmp(step, "serial") == 0)
		step_serial(s);
	else if (strcmp(step, "count") == 0)
		printf("count: %lu\n", apdu_count(&s->chan));
	else if (strcmp(step, "count0") == 0)
		apdu_count_reset(&s->chan);
	else if (strcmp(step, "readers") == 0)
		step_readers(s);
	else if (strcmp(step, "present") == 0)
		step_present(s);
	else if (starts(step, "poll:", &arg))
		step_poll(s, arg);
	else if (starts(step, "touch:", &arg))
		step_touch(arg);
	else if (starts(step, "wait:", &arg))
		step_wait(arg);
	else
		return -1;
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct session s = { 0 };
	int i, rc, status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: pcsc_piv READER STEP...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	s.reader = argv[1];
	rc = pcsc_open(&s.ctx);
	if (rc == APDU_OK && strcmp(s.reader, "-") != 0)
		rc = pcsc_connect(s.reader, &s.card);
	if (rc != APDU_OK) {
		printf("connect: %s\n", apdu_rc_name(rc));
		pcsc_close(s.ctx);
		return 1;
	}
	apdu_chan_init(&s.chan, &pcsc_transport, s.card); /* unused without a card */
	piv_init(&s.piv, &s.chan);
	for (i = 2; i < argc; i++) {
		if (run_step(&s, argv[i]) != 0) {
			fprintf(stderr, "pcsc_piv: unknown step %s\n", argv[i]);
			status = 2;
			break;
		}
	}
	pcsc_disconnect(s.card, false);
	pcsc_close(s.ctx);
	return status;
}
