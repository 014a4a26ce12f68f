/* The byte streams of the disposable tools (guest/dvm/README.md):
 * bulkhead-open-in-dvm (qubes.OpenInVM), bulkhead-convert-pdf
 * (qubes.PdfConvert) and bulkhead-convert-img (qubes.ImgConvert).  Each
 * call carries one REQUEST from the source qube to a fresh disposable (the
 * handler's stdin) and one answer back (its stdout): an OPEN REPLY for
 * qubes.OpenInVM, a PAGE STREAM for the converters.  All integers are
 * little-endian; there is no padding; every stream ends with the channel
 * (EOF), and a byte more or less than described is an error.
 *
 * REQUEST (source -> disposable), 24 + name_len + size bytes:
 *   u8  magic[8]   "BHDVMRQ1"
 *   u32 kind       DVM_KIND_OPEN / _PDF / _IMG (must match the service)
 *   u32 flags      DVM_FLAG_VIEW_ONLY (open only; others 0)
 *   u32 dpi        rendering resolution (pdf: 36..300; others 0)
 *   u32 name_len   1..DVM_NAME_MAX: the file's base name, so the
 *                  disposable picks the handler by its type
 *   u8  name[name_len]   no '/', no NUL, no control bytes, not . or ..
 *   u64 size       0..DVM_FILE_MAX
 *   u8  data[size]
 * The disposable is the receiver of this one; the source trusts nothing
 * it gets back.
 *
 * OPEN REPLY (disposable -> source), 16 bytes (+ size):
 *   u8  magic[8]   "BHDVMRS1"
 *   u32 status     DVM_OPEN_UNCHANGED (no data follows) or
 *                  DVM_OPEN_MODIFIED (size + data follow)
 *   u32 reserved   0
 *   [u64 size      0..DVM_FILE_MAX, u8 data[size]]
 * A view-only request is answered UNCHANGED; the source ignores any data
 * of a view-only call anyway.
 *
 * PAGE STREAM (disposable -> source), 16 bytes + pages:
 *   u8  magic[8]   "BHPAGES1"
 *   u32 pages      1..DVM_PAGES_MAX (an image is one page)
 *   u32 reserved   0
 *   per page:
 *     u32 width    1..DVM_DIM_MAX
 *     u32 height   1..DVM_DIM_MAX, width*height <= DVM_PAGE_PIXELS_MAX
 *     u8  rgb[width*height*3]   rows top to bottom, 8-bit R,G,B
 * and the sum of the rgb bytes is at most DVM_TOTAL_BYTES_MAX.  The
 * source checks every bound from the header alone, before it allocates
 * or reads the pixels.  The disposable says nothing else: no page size
 * (the source derives it from its own dpi), no text, no metadata. */
#ifndef BULKHEAD_GUEST_DVM_PROTO_H
#define BULKHEAD_GUEST_DVM_PROTO_H

#define DVM_REQ_MAGIC "BHDVMRQ1"
#define DVM_OPEN_MAGIC "BHDVMRS1"
#define DVM_PAGES_MAGIC "BHPAGES1"
#define DVM_MAGIC_LEN 8

#define DVM_KIND_OPEN 1u
#define DVM_KIND_PDF 2u
#define DVM_KIND_IMG 3u

#define DVM_FLAG_VIEW_ONLY 1u

#define DVM_OPEN_UNCHANGED 0u
#define DVM_OPEN_MODIFIED 1u

#define DVM_REQ_HDR_SIZE 24u     /* magic .. name_len */
#define DVM_OPEN_HDR_SIZE 16u
#define DVM_PAGES_HDR_SIZE 16u
#define DVM_PAGE_HDR_SIZE 8u

/* Limits.  Files: 1 GiB either way (a document, not a disk image).
 * Pages: 500 pages; 10,000 px a side (A0 at 240 dpi); 40 Mpx a page
 * (A4 at 600 dpi is 35 Mpx); 1 GiB of pixels for the whole document
 * (about 120 A4 pages at 150 dpi), which also bounds the output. */
#define DVM_NAME_MAX 255u
#define DVM_FILE_MAX (1ull << 30)
#define DVM_PAGES_MAX 500u
#define DVM_DIM_MAX 10000u
#define DVM_PAGE_PIXELS_MAX 40000000ull
#define DVM_TOTAL_BYTES_MAX (1ull << 30)
#define DVM_DPI_MIN 36u
#define DVM_DPI_MAX 300u
#define DVM_DPI_DEFAULT 150u

#endif
