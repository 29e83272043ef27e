/* What the files of notify/ share about channels: their limits, for
 * alerts (channel.c) and ready-made messages (message.c) alike. */
#ifndef CS_NOTIFY_CHANNEL_INT_H
#define CS_NOTIFY_CHANNEL_INT_H

#include "notify/channel.h"

/* Bytes of a message body a channel of type t takes (CS_LIMIT_*). */
size_t cs_channel_text_limit(cs_channel_type t);
/* Makes subject one line within the channel's subject limit. */
void cs_channel_subject_fit(const cs_channel_conf *ch, cs_buf *subject);

#endif
