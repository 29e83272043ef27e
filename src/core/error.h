/* Error codes shared by every component: the public list in
 * include/chainscope/error.h (CS_E* codes, cs_strerror). */
#ifndef CS_CORE_ERROR_H
#define CS_CORE_ERROR_H

#include "chainscope/error.h"

#endif
