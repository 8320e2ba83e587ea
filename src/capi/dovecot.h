/* The parts of Dovecot's lib that the C ABI shims call, and the original
   headers whose structs our #[repr(C)] copies are checked against.
   build.rs runs bindgen over this file with -include config.h. */
#include "lib.h"
#include "mempool.h"
#include "data-stack.h"
#include "buffer.h"
#include "str.h"
#include "array.h"
#include "istream.h"
#include "lib-event.h"
#include "failures.h"

#include "rfc822-parser.h"
#include "message-date.h"
#include "quoted-printable.h"
#include "smtp-address.h"
#include "message-address.h"
