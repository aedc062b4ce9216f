// A small C shim over libjpeg-turbo. libjpeg reports fatal errors through error_exit, which by
// default calls exit(); here it longjmps back so that every failure becomes a status code and a
// one-line message. Only Sources/Images/JPEGDecoder.swift calls these functions.
#pragma once
#include <stddef.h>

enum {
    CJPEG_OK = 0,
    CJPEG_EMPTY = 1,          // zero bytes
    CJPEG_CORRUPT = 2,        // libjpeg raised an error (not a JPEG, bad markers, bad data ...)
    CJPEG_TRUNCATED = 3,      // the data ended before the image did
    CJPEG_NO_MEMORY = 4,
    CJPEG_BAD_ARGUMENT = 5,
};

enum {
    CJPEG_OUTPUT_AUTO = 0,    // grayscale files stay gray, everything else becomes RGB
    CJPEG_OUTPUT_RGB = 1,
    CJPEG_OUTPUT_GRAY = 2,
};

#define CJPEG_MESSAGE_LENGTH 200

/// A decoded image: `pixels` is `height` rows of `width * channels` bytes, malloc'ed; release it
/// with `cjpeg_free`.
typedef struct {
    unsigned char *pixels;
    int width, height, channels;
    int source_width, source_height, source_components;
    int scale_denom;          // 1, 2, 4 or 8: the DCT scaling used
    int progressive;
    int adobe_inverted;       // CMYK/YCCK data with an Adobe marker (stored inverted)
    char message[CJPEG_MESSAGE_LENGTH];
} cjpeg_image;

/// Decodes a JPEG held in memory. When `min_width`/`min_height` are positive, decodes at the
/// smallest DCT scale (1/8, 1/4, 1/2 or 1) whose output is at least that size on both sides.
/// CMYK and YCCK files are converted to RGB (Adobe-inverted when the file says so).
int cjpeg_decode(const unsigned char *data, size_t size, int min_width, int min_height,
                 int output, cjpeg_image *image);

/// Reads only the header (markers up to the first scan): fills the `source_*`, `progressive` and
/// `adobe_inverted` fields of `image`, allocates nothing. A cheap validity check.
int cjpeg_read_header(const unsigned char *data, size_t size, cjpeg_image *image);

/// A compressed JPEG: `size` bytes at `data`, malloc'ed; release with `cjpeg_free`.
typedef struct {
    unsigned char *data;
    unsigned long size;
    char message[CJPEG_MESSAGE_LENGTH];
} cjpeg_buffer;

/// Encodes 8-bit gray (channels 1) or RGB (channels 3) pixels, rows of `width * channels` bytes.
int cjpeg_encode(const unsigned char *pixels, int width, int height, int channels, int quality,
                 int progressive, cjpeg_buffer *out);

void cjpeg_free(void *pointer);
