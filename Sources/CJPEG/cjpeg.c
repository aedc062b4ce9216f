#include "cjpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int saw_eof;
    char message[JMSG_LENGTH_MAX];
} shim_error;

static void shim_error_exit(j_common_ptr cinfo) {
    shim_error *err = (shim_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

// Warnings are not printed. libjpeg treats running out of data as a warning and pads the image
// with gray; we remember it so that a truncated file is reported as an error.
static void shim_emit_message(j_common_ptr cinfo, int level) {
    shim_error *err = (shim_error *)cinfo->err;
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) err->saw_eof = 1;
        cinfo->err->num_warnings++;
    }
}

static void shim_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void shim_install(shim_error *err) {
    jpeg_std_error(&err->pub);
    err->pub.error_exit = shim_error_exit;
    err->pub.emit_message = shim_emit_message;
    err->pub.output_message = shim_output_message;
    err->saw_eof = 0;
    err->message[0] = 0;
}

static void copy_message(char *dst, const char *src) {
    strncpy(dst, src, CJPEG_MESSAGE_LENGTH - 1);
    dst[CJPEG_MESSAGE_LENGTH - 1] = 0;
}

// Pillow's CMYK -> RGB: each channel is (255 - k) scaled by (255 - c) / 255, rounded as
// Pillow's MULDIV255 does.
static unsigned char muldiv255(int a, int b) {
    int t = a * b + 128;
    return (unsigned char)(((t >> 8) + t) >> 8);
}

static void cmyk_row_to_rgb(const unsigned char *in, unsigned char *out, int width, int inverted) {
    for (int x = 0; x < width; x++) {
        int c = in[4 * x], m = in[4 * x + 1], y = in[4 * x + 2], k = in[4 * x + 3];
        if (inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        int nk = 255 - k;
        out[3 * x] = (unsigned char)(nk - muldiv255(c, nk));
        out[3 * x + 1] = (unsigned char)(nk - muldiv255(m, nk));
        out[3 * x + 2] = (unsigned char)(nk - muldiv255(y, nk));
    }
}

// ITU-R 601 luma in 16-bit fixed point, as Pillow's RGB -> L.
static void rgb_row_to_gray(const unsigned char *in, unsigned char *out, int width) {
    for (int x = 0; x < width; x++) {
        unsigned v = in[3 * x] * 19595u + in[3 * x + 1] * 38470u + in[3 * x + 2] * 7471u + 0x8000u;
        out[x] = (unsigned char)(v >> 16);
    }
}

/* Opens `data` in `cinfo`, reads the header (a libjpeg error longjmps to the caller's handler) and
   records what it says in `image`. */
static void read_header_into(struct jpeg_decompress_struct *cinfo, const unsigned char *data, size_t size,
                             cjpeg_image *image) {
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_read_header(cinfo, TRUE);
    image->source_width = (int)cinfo->image_width;
    image->source_height = (int)cinfo->image_height;
    image->source_components = cinfo->num_components;
    image->progressive = cinfo->progressive_mode ? 1 : 0;
    image->adobe_inverted = cinfo->saw_Adobe_marker &&
        (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK);
}

int cjpeg_decode(const unsigned char *data, size_t size, int min_width, int min_height,
                 int output, cjpeg_image *image) {
    memset(image, 0, sizeof *image);
    if (size == 0 || data == NULL) {
        copy_message(image->message, "empty file");
        return CJPEG_EMPTY;
    }
    struct jpeg_decompress_struct cinfo;
    shim_error err;
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile scratch = NULL;
    cinfo.err = &err.pub;
    shim_install(&err);
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(scratch);
        copy_message(image->message, err.message);
        return CJPEG_CORRUPT;
    }
    read_header_into(&cinfo, data, size, image);
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    int gray = output == CJPEG_OUTPUT_GRAY ||
               (output == CJPEG_OUTPUT_AUTO && cinfo.jpeg_color_space == JCS_GRAYSCALE);
    if (cmyk) {
        cinfo.out_color_space = JCS_CMYK;   // libjpeg turns YCCK into CMYK for us
    } else {
        cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    }

    // The largest reduction whose output still covers the requested size on both sides.
    int denom = 1;
    if (min_width > 0 || min_height > 0) {
        cinfo.scale_num = 1;
        for (int d = 8; d >= 2; d /= 2) {
            cinfo.scale_denom = (unsigned)d;
            jpeg_calc_output_dimensions(&cinfo);
            if ((int)cinfo.output_width >= min_width && (int)cinfo.output_height >= min_height) {
                denom = d;
                break;
            }
        }
    }
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned)denom;
    image->scale_denom = denom;

    jpeg_start_decompress(&cinfo);
    int width = (int)cinfo.output_width, height = (int)cinfo.output_height;
    int channels = gray ? 1 : 3;
    size_t stride = (size_t)width * (size_t)channels;
    pixels = malloc(stride * (size_t)height);
    if (cmyk) scratch = malloc((size_t)width * 4 + (gray ? (size_t)width * 3 : 0));
    if (pixels == NULL || (cmyk && scratch == NULL)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(scratch);
        copy_message(image->message, "out of memory");
        return CJPEG_NO_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *row = pixels + stride * cinfo.output_scanline;
        if (cmyk) {
            JSAMPROW in = scratch;
            jpeg_read_scanlines(&cinfo, &in, 1);
            if (gray) {
                unsigned char *rgb = scratch + (size_t)width * 4;
                cmyk_row_to_rgb(scratch, rgb, width, image->adobe_inverted);
                rgb_row_to_gray(rgb, row, width);
            } else {
                cmyk_row_to_rgb(scratch, row, width, image->adobe_inverted);
            }
        } else {
            JSAMPROW out = row;
            jpeg_read_scanlines(&cinfo, &out, 1);
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(scratch);
    if (err.saw_eof) {
        free(pixels);
        copy_message(image->message, "truncated: the data ends before the image does");
        return CJPEG_TRUNCATED;
    }
    image->pixels = pixels;
    image->width = width;
    image->height = height;
    image->channels = channels;
    return CJPEG_OK;
}

int cjpeg_read_header(const unsigned char *data, size_t size, cjpeg_image *image) {
    memset(image, 0, sizeof *image);
    if (size == 0 || data == NULL) {
        copy_message(image->message, "empty file");
        return CJPEG_EMPTY;
    }
    struct jpeg_decompress_struct cinfo;
    shim_error err;
    cinfo.err = &err.pub;
    shim_install(&err);
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        copy_message(image->message, err.message);
        return CJPEG_CORRUPT;
    }
    read_header_into(&cinfo, data, size, image);
    int truncated = err.saw_eof;
    jpeg_destroy_decompress(&cinfo);
    if (truncated) {
        copy_message(image->message, "truncated: the data ends inside the header");
        return CJPEG_TRUNCATED;
    }
    return CJPEG_OK;
}

int cjpeg_encode(const unsigned char *pixels, int width, int height, int channels, int quality,
                 int progressive, cjpeg_buffer *out) {
    memset(out, 0, sizeof *out);
    if (pixels == NULL || width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
        copy_message(out->message, "encode: need a non-empty gray or RGB image");
        return CJPEG_BAD_ARGUMENT;
    }
    struct jpeg_compress_struct cinfo;
    shim_error err;
    cinfo.err = &err.pub;
    shim_install(&err);
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(out->data);   // jpeg_mem_dest keeps the buffer it grows in *out, outside this frame
        out->data = NULL;
        out->size = 0;
        copy_message(out->message, err.message);
        return CJPEG_CORRUPT;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &out->data, &out->size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * (size_t)channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return CJPEG_OK;
}

void cjpeg_free(void *pointer) { free(pointer); }
