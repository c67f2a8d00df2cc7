/* render.c - the pure parts of the directory methods: Slack's channel and
 * user objects, opaque cursors, the types= filter, limits, the member set of
 * a DM and reaction names. No I/O; render_test.c covers them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ids.h"
#include "jwt.h"
#include "mem.h"
#include "message_svc.h"
#include "ms_pure.h"
#include "pgarr.h"

/* render_bool - "true" / "false" */
static const char *
render_bool(int v)
{
	return v ? "true" : "false";
}

/* ms_render_chan - Slack's conversation object (members in a fixed order) */
void
ms_render_chan(const struct ms_chan_view *v, struct pl_buf *b)
{
	int pub = strcmp(v->kind, "public") == 0, priv = strcmp(v->kind, "private") == 0;
	int im = strcmp(v->kind, "dm") == 0, mpim = strcmp(v->kind, "group") == 0;

	pl_buf_puts(b, "{\"id\":");
	pl_buf_json_str(b, v->id);
	pl_buf_puts(b, ",\"name\":");
	pl_buf_json_str(b, v->name ? v->name : "");
	pl_buf_printf(b, ",\"is_channel\":%s,\"is_group\":%s,\"is_im\":%s,\"is_mpim\":%s,"
	    "\"is_private\":%s,\"is_general\":%s,\"is_shared\":false,"
	    "\"is_ext_shared\":false,\"is_org_shared\":false,\"created\":%lld,\"creator\":",
	    render_bool(pub), render_bool(priv), render_bool(im), render_bool(mpim),
	    render_bool(!pub), render_bool(v->is_general), (long long)v->created);
	pl_buf_json_str(b, v->creator ? v->creator : "");
	if (im && v->user != NULL) {
		pl_buf_puts(b, ",\"user\":");
		pl_buf_json_str(b, v->user);
	}
	pl_buf_printf(b, ",\"is_archived\":%s,\"is_member\":%s", render_bool(v->archived),
	    render_bool(v->is_member));
	if (!im)
		pl_buf_printf(b, ",\"num_members\":%lld", (long long)v->num_members);
	pl_buf_puts(b, ",\"context_team_id\":");
	pl_buf_json_str(b, v->team ? v->team : "");
	pl_buf_puts(b, ",\"topic\":{\"value\":\"\",\"creator\":\"\",\"last_set\":0},"
	    "\"purpose\":{\"value\":\"\",\"creator\":\"\",\"last_set\":0}");
	if (v->last_seq >= 0)
		pl_buf_printf(b, ",\"last_seq\":%lld,\"epoch\":%u", (long long)v->last_seq,
		    v->epoch);
	pl_buf_puts(b, "}");
}

/* ms_render_user - Slack's user object */
void
ms_render_user(const struct ms_user_view *v, struct pl_buf *b)
{
	const char *real = v->real_name && v->real_name[0] ? v->real_name : v->name;

	pl_buf_puts(b, "{\"id\":");
	pl_buf_json_str(b, v->id);
	pl_buf_puts(b, ",\"team_id\":");
	pl_buf_json_str(b, v->team);
	pl_buf_puts(b, ",\"name\":");
	pl_buf_json_str(b, v->name);
	pl_buf_printf(b, ",\"deleted\":%s,\"real_name\":", render_bool(v->deleted));
	pl_buf_json_str(b, real);
	pl_buf_printf(b, ",\"tz\":\"UTC\",\"tz_label\":\"Coordinated Universal Time\","
	    "\"tz_offset\":0,\"is_admin\":%s,\"is_owner\":false,\"is_primary_owner\":false,"
	    "\"is_restricted\":false,\"is_ultra_restricted\":false,\"is_bot\":false,"
	    "\"is_app_user\":false,\"updated\":%lld,\"profile\":{\"real_name\":",
	    render_bool(v->is_admin), (long long)v->updated);
	pl_buf_json_str(b, real);
	pl_buf_puts(b, ",\"real_name_normalized\":");
	pl_buf_json_str(b, real);
	pl_buf_puts(b, ",\"display_name\":");
	pl_buf_json_str(b, v->name);
	pl_buf_puts(b, ",\"display_name_normalized\":");
	pl_buf_json_str(b, v->name);
	if (v->email != NULL && v->email[0] != '\0') {
		pl_buf_puts(b, ",\"email\":");
		pl_buf_json_str(b, v->email);
	}
	pl_buf_puts(b, ",\"team\":");
	pl_buf_json_str(b, v->team);
	pl_buf_puts(b, "}}");
}

/* ms_render_cursor - base64url("tag:value") (heap) */
char *
ms_render_cursor(const char *tag, const char *value)
{
	char raw[128];

	snprintf(raw, sizeof(raw), "%s:%s", tag, value);
	return pl_b64url_encode(raw, strlen(raw));
}

/* ms_render_cursor_parse - the value of a cursor of tag */
int
ms_render_cursor_parse(const char *cursor, const char *tag, char *out, size_t n)
{
	unsigned char *raw = NULL;
	size_t len = 0, tl = strlen(tag);
	int rv = PL_EINVAL;

	if (pl_b64url_decode(cursor, strlen(cursor), &raw, &len) != 0)
		return PL_EINVAL;
	if (len > tl + 1 && len - tl - 1 < n && memcmp(raw, tag, tl) == 0 && raw[tl] == ':') {
		memcpy(out, raw + tl + 1, len - tl - 1);
		out[len - tl - 1] = '\0';
		rv = strlen(out) == len - tl - 1 ? 0 : PL_EINVAL;
	}
	free(raw);
	return rv;
}

/* ms_render_kinds - "public_channel,private_channel,mpim,im" -> {kinds} */
int
ms_render_kinds(const char *types, struct pl_buf *arr_r)
{
	static const struct { const char *type, *kind; } map[] = {
		{ "public_channel", "public" }, { "private_channel", "private" },
		{ "mpim", "group" }, { "im", "dm" },
	};
	char *copy = pl_strdup(types && types[0] ? types : "public_channel");
	char *save = NULL, *t;
	size_t i;
	int rv = 0;

	pl_pgarr_begin(arr_r);
	for (t = strtok_r(copy, ", ", &save); t && rv == 0; t = strtok_r(NULL, ", ", &save)) {
		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcmp(t, map[i].type) == 0)
				break;
		if (i == sizeof(map) / sizeof(map[0]))
			rv = PL_EINVAL;
		else
			pl_pgarr_text(arr_r, map[i].kind);
	}
	pl_pgarr_end(arr_r);
	free(copy);
	return rv;
}

/* ms_render_limit - a limit parameter */
int
ms_render_limit(const char *s, int def, int max, int *r)
{
	char *end;
	long v;

	if (s == NULL || s[0] == '\0') {
		*r = def;
		return 0;
	}
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 0)
		return PL_EINVAL;
	*r = v == 0 ? def : (v > max ? max : (int)v);
	return 0;
}

/* render_cmp - qsort of strings */
static int
render_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ms_render_user_set - the sorted unique member set of a DM / group DM */
int
ms_render_user_set(const char *caller, const char *users, char ***v_r)
{
	char *copy = pl_strdup(users ? users : ""), *save = NULL, *u;
	char **v = pl_calloc(1, sizeof(*v));
	int n = 1, i, k;

	v[0] = pl_strdup(caller);
	for (u = strtok_r(copy, ", ", &save); u; u = strtok_r(NULL, ", ", &save)) {
		if (!pl_id_valid(u, "UW") || n >= 64) {
			free(copy);
			pl_pgarr_free(&v, n);
			return PL_EINVAL;
		}
		v = pl_realloc(v, (size_t)(n + 1) * sizeof(*v));
		v[n++] = pl_strdup(u);
	}
	free(copy);
	qsort(v, (size_t)n, sizeof(*v), render_cmp);
	for (i = 1, k = 1; i < n; i++) {
		if (strcmp(v[i], v[k - 1]) == 0)
			free(v[i]);
		else
			v[k++] = v[i];
	}
	*v_r = v;
	return k;
}

/* ms_render_reaction_name - strip colons, check Slack's alphabet */
int
ms_render_reaction_name(const char *in, char *out, size_t n)
{
	size_t len, i;

	if (in == NULL)
		return PL_EINVAL;
	if (in[0] == ':')
		in++;
	len = strlen(in);
	if (len > 0 && in[len - 1] == ':')
		len--;
	if (len == 0 || len > 100 || len >= n)
		return PL_EINVAL;
	for (i = 0; i < len; i++) {
		char c = in[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		    c == '+' || c == '-' || c == '\''))
			return PL_EINVAL;
		out[i] = c;
	}
	out[len] = '\0';
	return 0;
}
