/*
 * lowlight-edge's JPEG encoder: libjpeg-turbo's libjpeg API (errors: fail.h). Baseline, 4:2:0,
 * Huffman tables optimised per image, and mozjpeg's default quantisation tables (the ImageMagick
 * tables by N. Robidoux, the same for luma and chroma) scaled by the IJG quality formula; the
 * service maps its q onto this quality (src/image/encoder-settings.ts).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include "jpeglib.h"
#include "fail.h"

static const unsigned int robidoux[64] = {
  16, 16, 16, 18, 25, 37, 56, 85,
  16, 17, 20, 27, 34, 40, 53, 75,
  16, 20, 24, 31, 43, 62, 91, 135,
  18, 27, 31, 40, 53, 74, 106, 156,
  25, 34, 43, 53, 69, 94, 131, 189,
  37, 40, 62, 74, 94, 124, 169, 238,
  56, 53, 91, 106, 131, 169, 226, 311,
  85, 75, 135, 156, 189, 238, 311, 418,
};

static struct jpeg_compress_struct cinfo;
static struct jpeg_error_mgr cerr;
static unsigned long encoded_size;

unsigned long ll_encoded_size(void) { return encoded_size; }

/* Encode width x height RGBA pixels (alpha ignored) at `quality` 1-100; returns the JPEG (free with ll_free), ll_encoded_size() bytes. */
unsigned char *ll_encode(const unsigned char *rgba, int width, int height, int quality) {
  unsigned char *out = NULL;
  encoded_size = 0;
  cinfo.err = ll_errors(&cerr);
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &out, &encoded_size);
  cinfo.image_width = (JDIMENSION)width;
  cinfo.image_height = (JDIMENSION)height;
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_EXT_RGBA;
  jpeg_set_defaults(&cinfo); /* YCbCr, 4:2:0 (Y sampled 2x2), integer DCT */
  int scale = jpeg_quality_scaling(quality);
  jpeg_add_quant_table(&cinfo, 0, robidoux, scale, TRUE);
  jpeg_add_quant_table(&cinfo, 1, robidoux, scale, TRUE);
  cinfo.optimize_coding = TRUE;
  jpeg_start_compress(&cinfo, TRUE);
  size_t stride = (size_t)width * 4;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(rgba + stride * cinfo.next_scanline);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return out;
}
