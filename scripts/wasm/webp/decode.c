// The WebP decoder with scale-on-decode (src/image/webp-dec.wasm, driven by src/image/webp-dec.ts):
// libwebp decodes straight to 1/n of the image's size, resampling each row as it is decoded, so a
// thumbnail never holds the full-size RGBA.
#include <stdint.h>
#include <stdlib.h>
#include "src/webp/decode.h"

// Status of the last call: a VP8StatusCode, or 100 for an animation; the size it decoded to.
static int status = 0, width = 0, height = 0;

int ll_status(void) { return status; }
int ll_width(void) { return width; }
int ll_height(void) { return height; }

// RGBA (not premultiplied) at ceil(w / n) x ceil(h / n), n >= 1; 0 on failure (see ll_status).
uint8_t* ll_decode(const uint8_t* data, size_t size, int n) {
  WebPDecoderConfig config;
  status = 0; width = 0; height = 0;
  if (n < 1 || !WebPInitDecoderConfig(&config)) { status = VP8_STATUS_INVALID_PARAM; return 0; }
  VP8StatusCode s = WebPGetFeatures(data, size, &config.input);
  if (s != VP8_STATUS_OK) { status = s; return 0; }
  if (config.input.has_animation) { status = 100; return 0; }
  if (n > 1) {
    config.options.use_scaling = 1;
    config.options.scaled_width = (config.input.width + n - 1) / n;
    config.options.scaled_height = (config.input.height + n - 1) / n;
  }
  config.output.colorspace = MODE_RGBA;
  s = WebPDecode(data, size, &config);
  if (s != VP8_STATUS_OK) { WebPFreeDecBuffer(&config.output); status = s; return 0; }
  width = config.output.width;
  height = config.output.height;
  return config.output.u.RGBA.rgba;
}

void* ll_malloc(size_t bytes) { return malloc(bytes); }
void ll_free(void* p) { free(p); }
