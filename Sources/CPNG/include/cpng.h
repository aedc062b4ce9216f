// A small C shim over libpng. libpng reports fatal errors by calling an error function that must
// not return; here it longjmps back so that every failure becomes a status code and a one-line
// message. Only Sources/Images/PNGDecoder.swift calls these functions.
#pragma once
#include <stddef.h>

enum {
    CPNG_OK = 0,
    CPNG_EMPTY = 1,          // zero bytes
    CPNG_CORRUPT = 2,        // libpng raised an error (bad signature, bad CRC, bad zlib data ...)
    CPNG_TRUNCATED = 3,      // the data ended before the image did
    CPNG_NO_MEMORY = 4,
};

enum {
    CPNG_OUTPUT_AUTO = 0,    // gray and gray+alpha files stay gray, everything else becomes RGB
    CPNG_OUTPUT_RGB = 1,
    CPNG_OUTPUT_GRAY = 2,
};

#define CPNG_MESSAGE_LENGTH 200

/// A decoded image: `pixels` is `height` rows of `width * channels` bytes, malloc'ed; release it
/// with `cpng_free`. `color_type` and `bit_depth` are the file's, as in its IHDR chunk.
typedef struct {
    unsigned char *pixels;
    int width, height, channels;
    int color_type, bit_depth, interlaced;
    char message[CPNG_MESSAGE_LENGTH];
} cpng_image;

/// Decodes a PNG held in memory to 8-bit gray or RGB as Pillow's `convert("L")` / `convert("RGB")`
/// does: alpha and tRNS are dropped, palettes expanded, 16-bit samples cut to their high byte
/// except 16-bit gray without alpha, which is clipped to 255 (Pillow's I;16 -> L).
int cpng_decode(const unsigned char *data, size_t size, int output, cpng_image *image);

/// Reads the chunks up to the first image data: fills `width`, `height`, `color_type`, `bit_depth`
/// and `interlaced`, allocates nothing. A cheap validity check.
int cpng_read_header(const unsigned char *data, size_t size, cpng_image *image);

void cpng_free(void *pointer);
