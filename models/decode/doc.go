// Package decode turns untrusted upload bytes into pixels, safely.
//
// Photos reach facematch from online ads, so every byte is hostile until
// proven otherwise. Three things can go wrong when such bytes are handed to a
// general-purpose decoder, and this package exists to stop each of them:
//
//   - Decompression bombs. A 50-byte PNG can claim to be 100000×100000 pixels;
//     decoding it would ask for 40 GB. [Image] reads the header with the
//     format's DecodeConfig first and refuses anything over
//     [Limits.MaxPixels] before a single pixel is allocated. Progressive
//     JPEGs can also burn CPU with hundreds of tiny scans over one large
//     image, so a marker walk counts the scans first and more than 100 is
//     [ErrTooCostly].
//   - Hostile structure. Decoders have panicked on crafted input in the past,
//     so every decoder call runs under recover and a panic becomes
//     [ErrCorrupt]. Our own EXIF parser is bounds-checked on every read and
//     ignores what it cannot understand instead of failing the upload.
//   - Lies about the format. A file called photo.jpg may be a WebP, an HTML
//     error page or a PDF. The format is sniffed from magic bytes ([Sniff]),
//     never taken from a file name or Content-Type, and only the decoder for
//     that format is run — not image.Decode's registry, which would try
//     whatever any imported package happened to register.
//
// # Workflow
//
// size check → sniff → DecodeConfig → pixel limit → decode (first GIF frame
// only) → convert to opaque 8-bit RGB in an *image.NRGBA → apply EXIF
// orientation (JPEG and TIFF).
//
// # Errors
//
// Every failure is an [*Error] whose Kind is one of the sentinels
// ([ErrEmpty], [ErrTooLarge], [ErrTooManyPixels], [ErrUnsupportedFormat],
// [ErrTruncated], [ErrCorrupt], [ErrTooCostly]); test with errors.Is. The kinds are kept
// apart because the HTTP layer maps them to different statuses (413, 415,
// 422).
//
// # Memory
//
// MaxPixels bounds memory, but not to 4 bytes per pixel: a 16-bit TIFF
// decodes to 8 bytes per pixel and may buffer a strip as large again, a
// progressive JPEG keeps its DCT coefficients (4 bytes per pixel per
// component) until the end, and conversion and EXIF rotation each add a
// 4-byte-per-pixel copy. [Inspect] reads the header alone and
// [Header.PeakBytes] estimates the peak for that header (5.5 bytes per pixel
// for a common JPEG, 11.5 for a progressive one, up to 36 for a 16-bit TIFF),
// so that callers can bound concurrent decodes by memory.
//
// All functions are safe for concurrent use; the package keeps no state.
package decode
