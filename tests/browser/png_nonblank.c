/* png_nonblank.c - is a PNG screenshot more than a blank page?
 *
 *   png_nonblank FILE.png [MIN_INK_PERCENT [MIN_COLOURS]]
 *
 * Decodes the PNG (8-bit greyscale, RGB, grey+alpha or RGBA, not
 * interlaced: what headless Chromium writes) with zlib, undoes the scanline
 * filters (PNG spec, section 9) and counts pixels that are not near-white
 * ("ink") and distinct colours (to 4 bits a channel). Prints
 *   1280x2000 ink=12.34% colours=57
 * and exits 0 when ink >= MIN_INK_PERCENT (default 2) and colours >=
 * MIN_COLOURS (default 8), 1 when below, 2 when the file is not such a PNG.
 * Built by tests/browser/check_report.sh with `cc ... -lz`; not part of the
 * product. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

static int bad(const char *path, const char *why)
{
    fprintf(stderr, "png_nonblank: %s: %s\n", path, why);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: png_nonblank FILE.png [MIN_INK_PERCENT [MIN_COLOURS]]\n");
        return 2;
    }
    const char *path = argv[1];
    double min_ink = argc > 2 ? atof(argv[2]) : 2.0;
    long min_colours = argc > 3 ? atol(argv[3]) : 8;
    FILE *f = fopen(path, "rb");
    if (!f) return bad(path, "cannot open");
    size_t cap = 1 << 20, len = 0, n;
    unsigned char *file = malloc(cap);
    while (file && (n = fread(file + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) file = realloc(file, cap *= 2);
    }
    fclose(f);
    if (!file) return bad(path, "out of memory");
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 8 || memcmp(file, sig, 8)) return bad(path, "not a PNG");
    uint32_t w = 0, h = 0;
    int depth = 0, type = -1, interlace = 0;
    unsigned char *idat = NULL;
    size_t idat_len = 0;
    for (size_t pos = 8; pos + 12 <= len;) {
        uint32_t clen = be32(file + pos);
        const unsigned char *ctype = file + pos + 4, *data = file + pos + 8;
        if (clen > len - pos - 12) return bad(path, "truncated chunk");
        if (!memcmp(ctype, "IHDR", 4) && clen >= 13) {
            w = be32(data);
            h = be32(data + 4);
            depth = data[8];
            type = data[9];
            interlace = data[12];
        } else if (!memcmp(ctype, "IDAT", 4)) {
            idat = realloc(idat, idat_len + clen + 1);
            if (!idat) return bad(path, "out of memory");
            memcpy(idat + idat_len, data, clen);
            idat_len += clen;
        } else if (!memcmp(ctype, "IEND", 4)) {
            break;
        }
        pos += 12 + (size_t)clen;
    }
    int channels = type == 0 ? 1 : type == 2 ? 3 : type == 4 ? 2 : type == 6 ? 4 : 0;
    if (!w || !h || depth != 8 || !channels || interlace || !idat || w > 100000 || h > 100000)
        return bad(path, "unsupported PNG (want 8-bit grey/RGB/RGBA, not interlaced)");
    size_t stride = (size_t)w * channels;
    uLongf raw_len = (uLongf)((stride + 1) * h);
    unsigned char *raw = malloc(raw_len);
    if (!raw || uncompress(raw, &raw_len, idat, (uLong)idat_len) != Z_OK ||
        raw_len != (stride + 1) * h)
        return bad(path, "bad image data");
    unsigned char *prev = calloc(stride, 1), *cur = malloc(stride);
    static unsigned char seen[4096];
    uint64_t ink = 0;
    long colours = 0;
    for (uint32_t y = 0; y < h; y++) {
        const unsigned char *line = raw + y * (stride + 1);
        int filter = line[0];
        for (size_t i = 0; i < stride; i++) {
            int a = i >= (size_t)channels ? cur[i - channels] : 0, b = prev[i],
                c = i >= (size_t)channels ? prev[i - channels] : 0, x = line[1 + i];
            switch (filter) {
            case 0:
                break;
            case 1:
                x += a;
                break;
            case 2:
                x += b;
                break;
            case 3:
                x += (a + b) / 2;
                break;
            case 4:
                x += paeth(a, b, c);
                break;
            default:
                return bad(path, "bad scanline filter");
            }
            cur[i] = (unsigned char)x;
        }
        for (uint32_t px = 0; px < w; px++) {
            const unsigned char *p = cur + (size_t)px * channels;
            int r = p[0], g = channels >= 3 ? p[1] : p[0], bl = channels >= 3 ? p[2] : p[0];
            if (r < 245 || g < 245 || bl < 245) ink++;
            int key = (r >> 4) << 8 | (g >> 4) << 4 | (bl >> 4);
            if (!seen[key]) {
                seen[key] = 1;
                colours++;
            }
        }
        unsigned char *t = prev;
        prev = cur;
        cur = t;
    }
    double pct = 100.0 * (double)ink / ((double)w * h);
    printf("%ux%u ink=%.2f%% colours=%ld\n", w, h, pct, colours);
    free(prev);
    free(cur);
    free(raw);
    free(idat);
    free(file);
    return pct >= min_ink && colours >= min_colours ? 0 : 1;
}
