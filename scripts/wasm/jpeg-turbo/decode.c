/*
 * lowlight-edge's JPEG decoder: libjpeg-turbo's libjpeg API, built to WebAssembly by build.sh.
 * Decodes to RGBA at a DCT scale of 1/1, 1/2, 1/4 or 1/8 (shrink-on-load: the IDCT itself makes
 * the smaller image, so a thumbnail never holds the full-size pixels).
 *
 * Errors and warnings end the decode with libjpeg's message (fail.h). Progressive
 * files are limited to LL_MAX_SCANS scans (a file of thousands of tiny scans costs a full IDCT
 * pass each otherwise), as libjpeg-turbo's own tools do with -maxscans.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include "jpeglib.h"
#include "fail.h"

#define LL_MAX_SCANS 500
#define LL_MAX_MEMORY (64L * 1024 * 1024)

static void on_progress(j_common_ptr cinfo) {
  j_decompress_ptr d = (j_decompress_ptr)cinfo;
  if (d->progressive_mode && d->input_scan_number > LL_MAX_SCANS) ll_fail("the progressive JPEG has more than 500 scans");
}

static struct jpeg_decompress_struct dinfo;
static struct jpeg_error_mgr jerr;
static struct jpeg_progress_mgr progress;
static int out_width, out_height;

int ll_width(void) { return out_width; }
int ll_height(void) { return out_height; }

void *ll_malloc(size_t n) { return malloc(n); }
void ll_free(void *p) { free(p); }

/*
 * Decode `len` bytes at `data` to RGBA at 1/denom of its size (denom 1, 2, 4 or 8), into a buffer
 * this returns (free it with ll_free); its size is ll_width() x ll_height().
 */
unsigned char *ll_decode(const unsigned char *data, unsigned long len, int denom) {
  dinfo.err = ll_errors(&jerr);
  jpeg_create_decompress(&dinfo);
  /* Bounds the whole-image buffers of progressive and multi-scan files (an error past it). */
  dinfo.mem->max_memory_to_use = LL_MAX_MEMORY;
  progress.progress_monitor = on_progress;
  dinfo.progress = &progress;
  jpeg_mem_src(&dinfo, data, len);
  jpeg_read_header(&dinfo, TRUE);
  dinfo.out_color_space = JCS_EXT_RGBA;
  dinfo.scale_num = 1;
  dinfo.scale_denom = (unsigned int)denom;
  jpeg_start_decompress(&dinfo);
  out_width = (int)dinfo.output_width;
  out_height = (int)dinfo.output_height;
  size_t stride = (size_t)out_width * 4;
  unsigned char *pixels = malloc(stride * (size_t)out_height);
  if (!pixels) ll_fail("out of memory for the decoded image");
  while (dinfo.output_scanline < dinfo.output_height) {
    JSAMPROW row = pixels + stride * dinfo.output_scanline;
    jpeg_read_scanlines(&dinfo, &row, 1);
  }
  jpeg_finish_decompress(&dinfo);
  jpeg_destroy_decompress(&dinfo);
  return pixels;
}
