#include "cpng.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

typedef struct {
    jmp_buf jump;
    const unsigned char *data;
    size_t size, offset;
    int ran_out;
    char message[CPNG_MESSAGE_LENGTH];
} shim_state;

static void copy_message(char *dst, const char *src) {
    strncpy(dst, src, CPNG_MESSAGE_LENGTH - 1);
    dst[CPNG_MESSAGE_LENGTH - 1] = 0;
}

static void shim_error(png_structp png, png_const_charp message) {
    shim_state *state = (shim_state *)png_get_error_ptr(png);
    copy_message(state->message, message);
    longjmp(state->jump, 1);
}

// Warnings (bad ancillary chunks, which libpng skips) are not printed.
static void shim_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

static void shim_read(png_structp png, png_bytep out, size_t length) {
    shim_state *state = (shim_state *)png_get_io_ptr(png);
    if (length > state->size - state->offset) {
        state->ran_out = 1;
        png_error(png, "the data ends before the image does");
    }
    memcpy(out, state->data + state->offset, length);
    state->offset += length;
}

static int failure_status(const shim_state *state) {
    return state->ran_out ? CPNG_TRUNCATED : CPNG_CORRUPT;
}

/* Starts reading `data` with `png` and `info` (a libpng error longjmps to the caller's handler),
   reads the chunks before the image data and records what IHDR says in `image`. */
static void read_info_into(png_structp png, png_infop info, shim_state *state, cpng_image *image) {
    if (state->size < 8 || png_sig_cmp(state->data, 0, 8) != 0) png_error(png, "not a PNG signature");
    png_set_read_fn(png, state, shim_read);
    png_read_info(png, info);
    image->width = (int)png_get_image_width(png, info);
    image->height = (int)png_get_image_height(png, info);
    image->color_type = png_get_color_type(png, info);
    image->bit_depth = png_get_bit_depth(png, info);
    image->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
}

/* Clears `image` and creates libpng's structures for reading `data` into `state`; on failure the
   status and message are set and nothing is left allocated. */
static int start(const unsigned char *data, size_t size, shim_state *state, png_structp *png, png_infop *info,
                 cpng_image *image) {
    memset(image, 0, sizeof *image);
    if (size == 0 || data == NULL) {
        copy_message(image->message, "empty file");
        return CPNG_EMPTY;
    }
    state->data = data;
    state->size = size;
    state->offset = 0;
    state->ran_out = 0;
    state->message[0] = 0;
    *png = png_create_read_struct(PNG_LIBPNG_VER_STRING, state, shim_error, shim_warning);
    *info = *png ? png_create_info_struct(*png) : NULL;
    if (*info == NULL) {
        png_destroy_read_struct(png, NULL, NULL);
        copy_message(image->message, "out of memory");
        return CPNG_NO_MEMORY;
    }
    return CPNG_OK;
}

// ITU-R 601 luma in 16-bit fixed point, as Pillow's RGB -> L.
static unsigned char luma(unsigned r, unsigned g, unsigned b) {
    return (unsigned char)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

/* One decoded row (`in_channels` samples a pixel, 8 or 16 bits each, big-endian) to `out`.
   16-bit samples keep their high byte, except plain 16-bit gray, which Pillow clips. */
static void convert_row(const unsigned char *in, unsigned char *out, int width, int in_channels,
                        int sixteen, int clip_gray, int out_channels) {
    for (int x = 0; x < width; x++) {
        unsigned v[3];
        int colour = in_channels >= 3;
        for (int c = 0; c < (colour ? 3 : 1); c++) {
            size_t i = (size_t)x * (size_t)in_channels + (size_t)c;
            if (!sixteen) {
                v[c] = in[i];
            } else if (clip_gray) {
                unsigned wide = ((unsigned)in[2 * i] << 8) | in[2 * i + 1];
                v[c] = wide > 255 ? 255 : wide;
            } else {
                v[c] = in[2 * i];
            }
        }
        if (!colour) v[1] = v[2] = v[0];
        if (out_channels == 1) {
            out[x] = colour ? luma(v[0], v[1], v[2]) : (unsigned char)v[0];
        } else {
            out[3 * x] = (unsigned char)v[0];
            out[3 * x + 1] = (unsigned char)v[1];
            out[3 * x + 2] = (unsigned char)v[2];
        }
    }
}

int cpng_decode(const unsigned char *data, size_t size, int output, cpng_image *image) {
    shim_state state;
    png_structp png = NULL;
    png_infop info = NULL;
    int status = start(data, size, &state, &png, &info, image);
    if (status != CPNG_OK) return status;
    unsigned char *volatile decoded = NULL;
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(state.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(decoded);
        free(pixels);
        free(rows);
        copy_message(image->message, state.message);
        return failure_status(&state);
    }
    read_info_into(png, info, &state, image);
    int gray_file = (image->color_type & PNG_COLOR_MASK_COLOR) == 0;
    int clip_gray = image->color_type == PNG_COLOR_TYPE_GRAY && image->bit_depth == 16;
    // Palettes become RGB (or RGBA with tRNS) and 1-, 2- and 4-bit gray is scaled to 8 bits; the
    // alpha these may add is dropped below with the file's own, as Pillow's conversions drop it.
    if (image->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (gray_file && image->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int in_channels = png_get_channels(png, info);
    int sixteen = png_get_bit_depth(png, info) == 16;
    size_t in_stride = png_get_rowbytes(png, info);
    size_t width = (size_t)image->width, height = (size_t)image->height;
    int gray = output == CPNG_OUTPUT_GRAY || (output == CPNG_OUTPUT_AUTO && gray_file);
    int channels = gray ? 1 : 3;
    decoded = malloc(in_stride * height);
    pixels = malloc(width * (size_t)channels * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (decoded == NULL || pixels == NULL || rows == NULL) {
        copy_message(state.message, "out of memory");
        longjmp(state.jump, 1);
    }
    for (size_t y = 0; y < height; y++) rows[y] = decoded + in_stride * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    for (size_t y = 0; y < height; y++) {
        convert_row(rows[y], pixels + width * (size_t)channels * y, image->width, in_channels, sixteen,
                    clip_gray, channels);
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(decoded);
    free(rows);
    image->pixels = pixels;
    image->channels = channels;
    return CPNG_OK;
}

int cpng_read_header(const unsigned char *data, size_t size, cpng_image *image) {
    shim_state state;
    png_structp png = NULL;
    png_infop info = NULL;
    int status = start(data, size, &state, &png, &info, image);
    if (status != CPNG_OK) return status;
    if (setjmp(state.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        copy_message(image->message, state.message);
        return failure_status(&state);
    }
    read_info_into(png, info, &state, image);
    png_destroy_read_struct(&png, &info, NULL);
    return CPNG_OK;
}

void cpng_free(void *pointer) { free(pointer); }
