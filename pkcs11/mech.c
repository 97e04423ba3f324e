#include "pkcs11/mech.h"

#include <stdlib.h>
#include <string.h>

#include "pkcs11/core.h"
#include "pkcs11/slots.h"

/*
 * The token's own mechanisms with their information, read once per token
 * (epoch) and replaced when another token comes into the slot. One
 * allocation, freed with free() by whoever drops the slot. Read and
 * replaced only under the module lock.
 */
struct mech_entry {
	CK_MECHANISM_TYPE type;
	CK_MECHANISM_INFO info;
};

struct mech_cache {
	CK_ULONG epoch;
	CK_ULONG n;
	struct mech_entry e[];
};

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS | CKF_EC_COMPRESS)

static const struct mech_recipe recipes[] = {
	{ CKM_SHA_1, MECH_DIGEST, true, CR_HASH_SHA1 },
	{ CKM_SHA224, MECH_DIGEST, true, CR_HASH_SHA224 },
	{ CKM_SHA256, MECH_DIGEST, true, CR_HASH_SHA256 },
	{ CKM_SHA384, MECH_DIGEST, true, CR_HASH_SHA384 },
	{ CKM_SHA512, MECH_DIGEST, true, CR_HASH_SHA512 },
	{ CKM_ECDSA, MECH_ECDSA, false, CR_HASH_COUNT },
	{ CKM_ECDSA_SHA1, MECH_ECDSA, true, CR_HASH_SHA1 },
	{ CKM_ECDSA_SHA224, MECH_ECDSA, true, CR_HASH_SHA224 },
	{ CKM_ECDSA_SHA256, MECH_ECDSA, true, CR_HASH_SHA256 },
	{ CKM_ECDSA_SHA384, MECH_ECDSA, true, CR_HASH_SHA384 },
	{ CKM_ECDSA_SHA512, MECH_ECDSA, true, CR_HASH_SHA512 },
	{ CKM_RSA_X_509, MECH_X509, false, CR_HASH_COUNT },
	{ CKM_RSA_PKCS, MECH_PKCS1, false, CR_HASH_COUNT },
	{ CKM_SHA1_RSA_PKCS, MECH_PKCS1, true, CR_HASH_SHA1 },
	{ CKM_SHA224_RSA_PKCS, MECH_PKCS1, true, CR_HASH_SHA224 },
	{ CKM_SHA256_RSA_PKCS, MECH_PKCS1, true, CR_HASH_SHA256 },
	{ CKM_SHA384_RSA_PKCS, MECH_PKCS1, true, CR_HASH_SHA384 },
	{ CKM_SHA512_RSA_PKCS, MECH_PKCS1, true, CR_HASH_SHA512 },
	{ CKM_RSA_PKCS_PSS, MECH_PSS, false, CR_HASH_COUNT },
	{ CKM_SHA1_RSA_PKCS_PSS, MECH_PSS, true, CR_HASH_SHA1 },
	{ CKM_SHA224_RSA_PKCS_PSS, MECH_PSS, true, CR_HASH_SHA224 },
	{ CKM_SHA256_RSA_PKCS_PSS, MECH_PSS, true, CR_HASH_SHA256 },
	{ CKM_SHA384_RSA_PKCS_PSS, MECH_PSS, true, CR_HASH_SHA384 },
	{ CKM_SHA512_RSA_PKCS_PSS, MECH_PSS, true, CR_HASH_SHA512 },
	{ CKM_RSA_PKCS_OAEP, MECH_OAEP, false, CR_HASH_COUNT },
	{ CKM_EDDSA, MECH_EDDSA, false, CR_HASH_COUNT },
};
#define N_RECIPES (sizeof(recipes) / sizeof(recipes[0]))

/* The operations a mechanism's flags speak of, with their flag. */
static const struct {
	enum token_op op;
	CK_FLAGS flag;
} op_flags[] = {
	{ TOKEN_OP_ENCRYPT, CKF_ENCRYPT },
	{ TOKEN_OP_DECRYPT, CKF_DECRYPT },
	{ TOKEN_OP_DIGEST, CKF_DIGEST },
	{ TOKEN_OP_SIGN, CKF_SIGN },
	{ TOKEN_OP_VERIFY, CKF_VERIFY },
	{ TOKEN_OP_SIGN_RECOVER, CKF_SIGN_RECOVER },
	{ TOKEN_OP_VERIFY_RECOVER, CKF_VERIFY_RECOVER },
};
#define N_OP_FLAGS (sizeof(op_flags) / sizeof(op_flags[0]))

static CK_FLAGS flag_of(enum token_op op)
{
	for (size_t i = 0; i < N_OP_FLAGS; i++)
		if (op_flags[i].op == op)
			return op_flags[i].flag;
	return 0;
}

static const struct mech_recipe *recipe_of(CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < N_RECIPES; i++)
		if (recipes[i].type == type)
			return &recipes[i];
	return NULL;
}

/* ---- the token's own mechanisms ---- */

/* Reads the token's list and what each mechanism does; installs it unless another token came meanwhile. */
static CK_RV load_token_mechanisms(struct slot *slot, CK_ULONG epoch)
{
	CK_MECHANISM_TYPE *list = NULL;
	struct mech_cache *c = NULL;
	CK_ULONG n = 0;
	CK_RV rv = CKR_OK;

	if (slot->ops->mechanism_list != NULL) {
		rv = slot->ops->mechanism_list(slot->tok, NULL, &n);
		if (rv != CKR_OK)
			goto out;
		list = calloc(n + 1, sizeof(*list));
		rv = list != NULL ? slot->ops->mechanism_list(slot->tok, list, &n) : CKR_HOST_MEMORY;
		if (rv != CKR_OK)
			goto out;
	}
	c = calloc(1, sizeof(*c) + n * sizeof(c->e[0]));
	if (c == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	c->epoch = epoch;
	c->n = n;
	for (CK_ULONG i = 0; i < n; i++) {
		c->e[i].type = list[i];
		/* A mechanism the token cannot describe is one it is not known to do anything with. */
		if (slot->ops->mechanism_info == NULL ||
		    slot->ops->mechanism_info(slot->tok, list[i], &c->e[i].info) != CKR_OK)
			memset(&c->e[i].info, 0, sizeof(c->e[i].info));
	}
	rv = core_lock();
	if (rv != CKR_OK)
		goto out;
	if (slot->epoch == epoch) {
		free(slot->mechs);
		slot->mechs = c;
		c = NULL;
	}
	core_unlock();
out:
	free(list);
	free(c);
	return rv;
}

/*
 * Takes the module lock with the current token's mechanisms loaded, and
 * returns them; the caller unlocks. A token swapped in while its list was
 * being read makes it read again, a few times at most.
 */
static CK_RV lock_with_mechanisms(struct slot *slot, const struct mech_cache **out)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		CK_ULONG epoch;
		CK_RV rv = core_lock();

		if (rv != CKR_OK)
			return rv;
		if (slot->mechs != NULL && slot->mechs->epoch == slot->epoch) {
			*out = slot->mechs;
			return CKR_OK;
		}
		epoch = slot->epoch;
		core_unlock();
		rv = load_token_mechanisms(slot, epoch);
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_DEVICE_REMOVED; /* tokens come and go faster than their lists can be read */
}

static const struct mech_entry *native_locked(const struct mech_cache *c, CK_MECHANISM_TYPE type)
{
	for (CK_ULONG i = 0; i < c->n; i++)
		if (c->e[i].type == type)
			return &c->e[i];
	return NULL;
}

/* Whether the token itself does op with this mechanism. */
static bool offers_locked(const struct mech_cache *c, CK_MECHANISM_TYPE type, enum token_op op)
{
	const struct mech_entry *e = native_locked(c, type);

	return e != NULL && (e->info.flags & flag_of(op)) != 0;
}

/* The token's raw mechanism of a family's keys, whatever it does with it: the key sizes and CKF_HW come from it. */
static const struct mech_entry *raw_of_family_locked(const struct mech_cache *c, enum mech_family family)
{
	const struct mech_entry *e;

	switch (family) {
	case MECH_ECDSA:
		return native_locked(c, CKM_ECDSA);
	case MECH_EDDSA:
		return native_locked(c, CKM_EDDSA);
	case MECH_PKCS1:
	case MECH_PSS:
	case MECH_X509:
	case MECH_OAEP:
		e = native_locked(c, CKM_RSA_X_509);
		return e != NULL ? e : native_locked(c, CKM_RSA_PKCS);
	default:
		return NULL;
	}
}

/* ---- strategies ---- */

/* The raw mechanisms a composed operation may rest on, best first; 0 ends a list. */
static const CK_MECHANISM_TYPE over_ecdsa[] = { CKM_ECDSA, 0 };
static const CK_MECHANISM_TYPE over_digest_info[] = { CKM_RSA_PKCS, CKM_RSA_X_509, 0 };
static const CK_MECHANISM_TYPE over_raw_pss[] = { CKM_RSA_PKCS_PSS, CKM_RSA_X_509, 0 };
static const CK_MECHANISM_TYPE over_raw_rsa[] = { CKM_RSA_X_509, 0 };

static const CK_MECHANISM_TYPE *bases_for(enum token_op op, const struct mech_recipe *r)
{
	switch (op) {
	case TOKEN_OP_SIGN:
		if (r->family == MECH_ECDSA)
			return r->hashes ? over_ecdsa : NULL;
		if (r->family == MECH_PKCS1)
			return r->hashes ? over_digest_info : over_raw_rsa;
		if (r->family == MECH_PSS)
			return r->hashes ? over_raw_pss : over_raw_rsa;
		return NULL;
	case TOKEN_OP_VERIFY:
		/* A token that verifies raw ECDSA checks the hash itself (SoftHSM); RSA is checked on the host. */
		return r->family == MECH_ECDSA && r->hashes ? over_ecdsa : NULL;
	case TOKEN_OP_DECRYPT:
		return (r->family == MECH_PKCS1 && !r->hashes) || r->family == MECH_OAEP ? over_raw_rsa : NULL;
	default:
		return NULL;
	}
}

static CK_MECHANISM_TYPE composed_base_locked(const struct mech_cache *c, enum token_op op,
					      const struct mech_recipe *r)
{
	const CK_MECHANISM_TYPE *bases = bases_for(op, r);

	for (size_t i = 0; bases != NULL && bases[i] != 0; i++)
		if (offers_locked(c, bases[i], op))
			return bases[i];
	return 0;
}

/* Whether the host can do op itself: digests, and public-key operations with a key the token holds. */
static bool host_can_locked(const struct mech_cache *c, enum token_op op, const struct mech_recipe *r)
{
	bool has_key_kind = raw_of_family_locked(c, r->family) != NULL;

	switch (op) {
	case TOKEN_OP_DIGEST:
		return r->family == MECH_DIGEST;
	case TOKEN_OP_VERIFY:
		return has_key_kind && r->family != MECH_OAEP;
	case TOKEN_OP_ENCRYPT:
		return has_key_kind && (r->family == MECH_X509 || r->family == MECH_OAEP ||
					(r->family == MECH_PKCS1 && !r->hashes));
	default:
		return false;
	}
}

static void plan_locked(const struct mech_cache *c, enum token_op op, CK_MECHANISM_TYPE type, struct mech_plan *p)
{
	const struct mech_recipe *r = recipe_of(type);

	*p = (struct mech_plan){ MECH_NATIVE, NULL, 0 };
	if (r == NULL)
		return; /* the token judges mechanisms signet does not know */
	/*
	 * SoftHSM 2.6 refuses OAEP labels and a zero `source`, both of which
	 * clients send; any token with raw RSA decryption can do without its
	 * own OAEP, so OAEP is decoded here, the same way for every token.
	 */
	if (op == TOKEN_OP_DECRYPT && r->family == MECH_OAEP && offers_locked(c, CKM_RSA_X_509, op)) {
		*p = (struct mech_plan){ MECH_COMPOSED, r, CKM_RSA_X_509 };
		return;
	}
	/*
	 * Digests are the host's: no key is involved, and it saves the token's
	 * copy of every byte (SoftHSM copies each part it is given). Hash-and-
	 * sign stays the token's own where it has it, since a key may be allowed
	 * that mechanism and not the raw one (CKA_ALLOWED_MECHANISMS).
	 */
	if (op == TOKEN_OP_DIGEST && r->family == MECH_DIGEST) {
		*p = (struct mech_plan){ MECH_HOST, r, 0 };
		return;
	}
	if (offers_locked(c, type, op))
		return;
	p->base = composed_base_locked(c, op, r);
	if (p->base != 0) {
		p->strategy = MECH_COMPOSED;
		p->recipe = r;
	} else if (host_can_locked(c, op, r)) {
		p->strategy = MECH_HOST;
		p->recipe = r;
	}
}

/* The flags of the operations signet adds to a mechanism, on top of what the token does with it. */
static CK_FLAGS added_flags_locked(const struct mech_cache *c, CK_MECHANISM_TYPE type)
{
	struct mech_plan p;
	CK_FLAGS flags = 0;

	for (size_t i = 0; i < N_OP_FLAGS; i++) {
		plan_locked(c, op_flags[i].op, type, &p);
		if (p.strategy != MECH_NATIVE)
			flags |= op_flags[i].flag;
	}
	return flags;
}

CK_RV mech_plan(struct slot *slot, enum token_op op, CK_MECHANISM_TYPE type, struct mech_plan *plan)
{
	const struct mech_cache *c;
	CK_RV rv = lock_with_mechanisms(slot, &c);

	if (rv != CKR_OK)
		return rv;
	plan_locked(c, op, type, plan);
	core_unlock();
	return CKR_OK;
}

/* ---- what the application sees ---- */

CK_RV mech_list(struct slot *slot, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	const struct mech_cache *c;
	CK_ULONG n = 0;
	CK_RV rv = lock_with_mechanisms(slot, &c);

	if (rv != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < c->n; i++, n++)
		if (list != NULL && n < *count)
			list[n] = c->e[i].type;
	for (size_t i = 0; i < N_RECIPES; i++) {
		if (native_locked(c, recipes[i].type) != NULL || added_flags_locked(c, recipes[i].type) == 0)
			continue;
		if (list != NULL && n < *count)
			list[n] = recipes[i].type;
		n++;
	}
	core_unlock();
	rv = list != NULL && n > *count ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	*count = n;
	return rv;
}

CK_RV mech_info(struct slot *slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	const struct mech_cache *c;
	const struct mech_entry *e, *raw;
	const struct mech_recipe *r;
	CK_FLAGS added;
	CK_RV rv = lock_with_mechanisms(slot, &c);

	if (rv != CKR_OK)
		return rv;
	e = native_locked(c, type);
	added = added_flags_locked(c, type);
	if (e != NULL) {
		*info = e->info;
		info->flags |= added;
	} else if (added != 0) {
		r = recipe_of(type);
		raw = raw_of_family_locked(c, r->family);
		memset(info, 0, sizeof(*info));
		if (raw != NULL) {
			info->ulMinKeySize = raw->info.ulMinKeySize;
			info->ulMaxKeySize = raw->info.ulMaxKeySize;
			info->flags = raw->info.flags & (CKF_HW | EC_FLAGS);
		}
		info->flags |= added;
	} else {
		rv = CKR_MECHANISM_INVALID;
	}
	core_unlock();
	return rv;
}
