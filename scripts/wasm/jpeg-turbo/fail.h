/*
 * libjpeg's error exit and messages for decode.c and encode.c: every error, and every warning (a
 * warning means damaged or missing data, such as "Premature end of JPEG file"), ends the call
 * through the imported ll_fail(message), which throws in JavaScript with libjpeg's own message and
 * unwinds out of the module (src/image/jpeg-turbo.ts then discards the instance).
 */
#ifndef LL_FAIL_H
#define LL_FAIL_H
#include <stdio.h>
#include "jpeglib.h"

__attribute__((import_module("env"), import_name("ll_fail")))
extern void ll_fail(const char *message);

static void ll_fail_with_message(j_common_ptr cinfo) {
  char buffer[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, buffer);
  ll_fail(buffer);
}

static void ll_on_error(j_common_ptr cinfo) { ll_fail_with_message(cinfo); }

/* -1: a warning (corrupt or missing data); trace levels (>= 0) are ignored. */
static void ll_on_message(j_common_ptr cinfo, int level) {
  if (level < 0) ll_fail_with_message(cinfo);
}

/* libjpeg's error manager, set to fail as above. */
static struct jpeg_error_mgr *ll_errors(struct jpeg_error_mgr *err) {
  jpeg_std_error(err);
  err->error_exit = ll_on_error;
  err->emit_message = ll_on_message;
  return err;
}
#endif
