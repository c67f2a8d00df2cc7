/* lg_eio.c - Engine.IO / Socket.IO packet codec; see lg_eio.h */
#include "lg_eio.h"

#include <stdio.h>
#include <string.h>

/* lg_eio_sio - the Socket.IO layer inside an Engine.IO message */
static int
lg_eio_sio(const char *s, size_t n, struct lg_eio_pkt *pkt)
{
	size_t i = 1;

	if (n < 1 || s[0] < '0' || s[0] > '6')
		return LG_EIO_EPROTO;
	pkt->sio = s[0] - '0';
	if (i < n && s[i] == '/') {             /* namespace up to ',' */
		const char *comma = memchr(s + i, ',', n - i);

		if (comma == NULL)
			return LG_EIO_EPROTO;
		i = (size_t)(comma - s) + 1;
	}
	if (i < n && s[i] >= '0' && s[i] <= '9') {
		pkt->ack = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			pkt->ack = pkt->ack * 10 + (s[i++] - '0');
	}
	pkt->data = s + i;
	pkt->len = n - i;
	return 0;
}

/* lg_eio_parse - type digit, then the Socket.IO layer for messages */
int
lg_eio_parse(const char *s, size_t n, struct lg_eio_pkt *pkt)
{
	pkt->sio = -1;
	pkt->ack = -1;
	pkt->data = s + (n > 0);
	pkt->len = n > 0 ? n - 1 : 0;
	if (n < 1 || s[0] < '0' || s[0] > '6')
		return LG_EIO_EPROTO;
	pkt->eio = s[0] - '0';
	if (pkt->eio != LG_EIO_MESSAGE)
		return 0;
	return lg_eio_sio(s + 1, n - 1, pkt);
}

/* lg_eio_event - data must start with ["name" */
int
lg_eio_event(const struct lg_eio_pkt *pkt, char *name, size_t cap)
{
	const char *q;
	size_t len;

	if (pkt->len < 4 || pkt->data[0] != '[' || pkt->data[1] != '"')
		return -1;
	q = memchr(pkt->data + 2, '"', pkt->len - 2);
	if (q == NULL)
		return -1;
	len = (size_t)(q - (pkt->data + 2));
	if (len + 1 > cap)
		return -1;
	memcpy(name, pkt->data + 2, len);
	name[len] = '\0';
	return 0;
}

/* lg_eio_emit - an event packet, with an ack id when ack >= 0 */
int
lg_eio_emit(char *out, size_t cap, const char *event, const char *json,
    long long ack)
{
	int n;

	if (ack >= 0)
		n = snprintf(out, cap, "42%lld[\"%s\",%s]", ack, event, json);
	else
		n = snprintf(out, cap, "42[\"%s\",%s]", event, json);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}
