#include "tools/module.h"

#include <dlfcn.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/tool.h"

#ifndef SIGNET_LIBDIR
#define SIGNET_LIBDIR "/usr/local/lib"
#endif

#define MODULE_NAME "signet-pkcs11.so"

/* The build tree keeps the tool beside the module: prefer that copy when the tool runs from there. */
static bool module_beside_tool(char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return false;
	exe[n] = '\0';
	if ((size_t)snprintf(out, size, "%s/%s", dirname(exe), MODULE_NAME) >= size)
		return false;
	return access(out, R_OK) == 0;
}

static int resolve_path(const char *path, char *out, size_t size)
{
	const char *env = getenv("SIGNET_MODULE");

	if (path == NULL && env != NULL && *env != '\0')
		path = env;
	if (path == NULL && module_beside_tool(out, size))
		return EXIT_OK;
	if (path == NULL)
		path = SIGNET_LIBDIR "/pkcs11/" MODULE_NAME;
	if (strlen(path) >= size)
		return fail(EXIT_USAGE, "module path too long: %s", path);
	strcpy(out, path);
	return EXIT_OK;
}

/* signet's vendor interface, when the module offers it (PKCS#11 3.0 C_GetInterface). */
static void find_vendor_interface(struct module *m)
{
	CK_VERSION v = { SIGNET_VENDOR_VERSION_MAJOR, SIGNET_VENDOR_VERSION_MINOR };
	CK_INTERFACE *iface = NULL;
	CK_C_GetInterface get_interface;

	*(void **)&get_interface = dlsym(m->dl, "C_GetInterface");
	if (get_interface != NULL &&
	    get_interface((CK_UTF8CHAR_PTR)SIGNET_VENDOR_INTERFACE, &v, &iface, 0) == CKR_OK && iface != NULL)
		m->vendor = iface->pFunctionList;
}

int module_open(const char *path, struct module **out)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList get_list;
	struct module *m = calloc(1, sizeof(*m));
	int code = EXIT_ERROR;
	CK_RV rv;

	*out = NULL;
	if (m == NULL)
		return fail(EXIT_ERROR, "out of memory");
	code = resolve_path(path, m->path, sizeof(m->path));
	if (code != EXIT_OK)
		goto out;
	code = EXIT_ERROR;
	m->dl = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
	if (m->dl == NULL) {
		fail(EXIT_ERROR, "cannot load the PKCS#11 module %s: %s (give it with --module or SIGNET_MODULE)",
		     m->path, dlerror());
		goto out;
	}
	*(void **)&get_list = dlsym(m->dl, "C_GetFunctionList");
	if (get_list == NULL || get_list(&m->f) != CKR_OK || m->f == NULL) {
		fail(EXIT_ERROR, "%s is not a PKCS#11 module", m->path);
		goto out;
	}
	find_vendor_interface(m);
	rv = m->f->C_Initialize(&args);
	if (rv != CKR_OK) {
		fail(EXIT_ERROR, "the module %s did not start (%s): its log lines above say why", m->path,
		     ckr_name(rv));
		goto out;
	}
	m->initialized = true;
	*out = m;
	return EXIT_OK;
out:
	module_close(m);
	return code;
}

void module_close(struct module *m)
{
	if (m == NULL)
		return;
	if (m->initialized)
		m->f->C_Finalize(NULL);
	if (m->dl != NULL)
		dlclose(m->dl);
	free(m);
}

void field_text(char *out, size_t out_size, const void *field, size_t field_size)
{
	size_t len = field_size < out_size - 1 ? field_size : out_size - 1;

	memcpy(out, field, len);
	while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\0'))
		len--;
	out[len] = '\0';
}

#define FIELD(out, field) field_text((out), sizeof(out), (field), sizeof(field))

CK_RV token_refresh_rv(struct module *m, struct token *t)
{
	CK_RV rv = m->f->C_GetSlotInfo(t->slot, &t->slot_info);

	if (rv != CKR_OK)
		return rv;
	FIELD(t->slot_description, t->slot_info.slotDescription);
	t->present = (t->slot_info.flags & CKF_TOKEN_PRESENT) != 0;
	if (!t->present)
		return CKR_OK;
	rv = m->f->C_GetTokenInfo(t->slot, &t->info);
	if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED) {
		t->present = false;
		return CKR_OK;
	}
	if (rv != CKR_OK)
		return rv;
	FIELD(t->label, t->info.label);
	FIELD(t->serial, t->info.serialNumber);
	FIELD(t->model, t->info.model);
	FIELD(t->manufacturer, t->info.manufacturerID);
	/* The exact counts behind the PIN flags, read at the same moment; the flags serve without them. */
	t->have_tries = m->vendor != NULL && m->vendor->C_SignetGetPinTries(t->slot, &t->tries) == CKR_OK;
	return CKR_OK;
}

int tokens_list(struct module *m, struct token **out, size_t *n)
{
	CK_SLOT_ID *slots = NULL;
	struct token *list = NULL;
	CK_ULONG count = 0;
	CK_RV rv;

	*out = NULL;
	*n = 0;
	rv = m->f->C_GetSlotList(CK_FALSE, NULL, &count);
	if (rv == CKR_OK && count > 0) {
		slots = calloc(count, sizeof(*slots));
		list = calloc(count, sizeof(*list));
		if (slots == NULL || list == NULL)
			rv = CKR_HOST_MEMORY;
		if (rv == CKR_OK)
			rv = m->f->C_GetSlotList(CK_FALSE, slots, &count);
	}
	for (CK_ULONG i = 0; rv == CKR_OK && i < count; i++) {
		list[i].slot = slots[i];
		rv = token_refresh_rv(m, &list[i]);
	}
	free(slots);
	if (rv != CKR_OK) {
		free(list);
		return fail_rv(rv, "listing the slots");
	}
	*out = list;
	*n = count;
	return EXIT_OK;
}

bool token_initialized(const struct token *t)
{
	return t->present && (t->info.flags & CKF_TOKEN_INITIALIZED);
}

bool token_can_reset(const struct token *t)
{
	return t->have_tries && (t->tries.flags & SIGNET_TOKEN_CAN_RESET);
}

bool token_can_set_retries(const struct token *t)
{
	return t->have_tries && (t->tries.flags & SIGNET_TOKEN_CAN_SET_RETRIES);
}

bool token_is_card(const struct token *t)
{
	return (t->slot_info.flags & CKF_HW_SLOT) != 0;
}

const char *token_kind(const struct token *t)
{
	return token_is_card(t) ? "card" : "software";
}

CK_RV session_open_rv(struct module *m, const struct token *t, bool rw, CK_SESSION_HANDLE *s)
{
	return m->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), NULL, NULL, s);
}

void session_close(struct module *m, CK_SESSION_HANDLE s)
{
	m->f->C_CloseSession(s);
}

CK_RV attr_read_rv(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
		   struct cr_bytes *out)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv;

	out->data = NULL;
	out->len = 0;
	rv = m->f->C_GetAttributeValue(s, o, &a, 1);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen == 0)
		return CKR_OK;
	if (rv != CKR_OK)
		return rv;
	a.pValue = malloc(a.ulValueLen);
	if (a.pValue == NULL)
		return CKR_HOST_MEMORY;
	rv = m->f->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	out->data = a.pValue;
	out->len = a.ulValueLen;
	return CKR_OK;
}

bool attr_ulong(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_ULONG *v)
{
	CK_ATTRIBUTE a = { type, v, sizeof(*v) };

	return m->f->C_GetAttributeValue(s, o, &a, 1) == CKR_OK && a.ulValueLen == sizeof(*v);
}

bool attr_bool(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = CK_FALSE;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	return m->f->C_GetAttributeValue(s, o, &a, 1) == CKR_OK && a.ulValueLen == sizeof(v) && v == CK_TRUE;
}

CK_RV find_all_rv(struct module *m, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG count,
		  CK_OBJECT_HANDLE **out, size_t *n)
{
	CK_OBJECT_HANDLE batch[32], *list = NULL, *grown;
	CK_ULONG got;
	size_t have = 0;
	CK_RV rv = m->f->C_FindObjectsInit(s, tmpl, count);

	*out = NULL;
	*n = 0;
	if (rv != CKR_OK)
		return rv;
	for (;;) {
		rv = m->f->C_FindObjects(s, batch, sizeof(batch) / sizeof(batch[0]), &got);
		if (rv != CKR_OK || got == 0)
			break;
		grown = realloc(list, (have + got) * sizeof(*list));
		if (grown == NULL) {
			rv = CKR_HOST_MEMORY;
			break;
		}
		list = grown;
		memcpy(list + have, batch, got * sizeof(*batch));
		have += got;
	}
	m->f->C_FindObjectsFinal(s);
	if (rv != CKR_OK) {
		free(list);
		return rv;
	}
	*out = list;
	*n = have;
	return CKR_OK;
}

void bytes_free(struct cr_bytes *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}
