/* mention.c - who a message mentions: <@U123>, <@U123|label>, <!channel>,
 * <!everyone>, <!here> (with or without a |label). The author never
 * mentions themself; a user named twice counts once; at most
 * NS_MENTION_MAX users are kept (the rest of a longer list is ignored:
 * bounded work per message). */
#include <string.h>

#include "notify.h"

/* ns_id_ok - an id or ts safe to store and to put in JSON unescaped */
int
ns_id_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n]; n++) {
		char ch = s[n];

		if (n >= NS_ID_MAX || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return n > 0;
}

/* mention_word - the token after "<@" or "<!" up to '>' or '|': its length,
 * or 0 when it is not a well-formed token (no closing '>') */
static size_t
mention_word(const char *p, const char **end)
{
	size_t n = 0;

	while (p[n] && p[n] != '>' && p[n] != '|' && p[n] != '<')
		n++;
	if (p[n] == '|') {
		const char *q = p + n;

		while (*q && *q != '>' && *q != '<')
			q++;
		if (*q != '>')
			return 0;
		*end = q + 1;
		return n;
	}
	if (p[n] != '>')
		return 0;
	*end = p + n + 1;
	return n;
}

/* mention_add - one user, once, never the author */
static void
mention_add(struct ns_mentions *m, const char *id, size_t n, const char *author)
{
	char buf[NS_ID_MAX + 1];
	int i;

	if (n == 0 || n > NS_ID_MAX || m->n >= NS_MENTION_MAX)
		return;
	memcpy(buf, id, n);
	buf[n] = 0;
	if (!ns_id_ok(buf) || (author != NULL && strcmp(buf, author) == 0))
		return;
	for (i = 0; i < m->n; i++)
		if (strcmp(m->users[i], buf) == 0)
			return;
	memcpy(m->users[m->n++], buf, n + 1);
}

/* ns_mention_parse - fill m from text */
void
ns_mention_parse(const char *text, const char *author, struct ns_mentions *m)
{
	const char *p = text, *end;
	size_t n;

	memset(m, 0, sizeof(*m));
	if (text == NULL)
		return;
	while ((p = strchr(p, '<')) != NULL) {
		if (p[1] != '@' && p[1] != '!') {
			p++;
			continue;
		}
		if ((n = mention_word(p + 2, &end)) == 0) {
			p += 2;
			continue;
		}
		if (p[1] == '@') {
			mention_add(m, p + 2, n, author);
		} else if ((n == 7 && strncmp(p + 2, "channel", 7) == 0) ||
		    (n == 8 && strncmp(p + 2, "everyone", 8) == 0)) {
			m->channel = m->broadcast = 1;
		} else if (n == 4 && strncmp(p + 2, "here", 4) == 0) {
			m->here = m->broadcast = 1;
		}
		p = end;
	}
}
