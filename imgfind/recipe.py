"""The fingerprint recipe: every constant that changes hash bits, and the version that names them.

A stored fingerprint carries :func:`recipe_id` (:data:`RECIPE_VERSION` plus the version of
the libraries that make the pixels, :func:`libraries`); an index run re-fingerprints every file
whose stored recipe differs, so hashes made by two recipes are never compared. Change any
constant below (or the code in decoders/ or fingerprint.py that uses them) and bump
RECIPE_VERSION in the same commit; a Pillow upgrade changes the identity by itself.
"""

from __future__ import annotations

import functools

#: Bump when any step of decoding or fingerprinting changes the bits: stored fingerprints of
#: another recipe are recomputed on the next index instead of being compared with these.
RECIPE_VERSION = 10  # 10: thumbnail grey steps follow the picture's fine detail (thumb_step)
# 9: (session 7, reverted; not reused) grey steps of 6 for every thumbnail
# 8: KEYPOINTS 128 -> 256 (a picture shown small inside a screenshot)
# 7: a TIFF with an EXIF Orientation is turned once (Pillow turns it on load)
# 6: soft pictures get keypoints at a lower FAST threshold (ORB_FAST_MIN)
# 5: JPEGs drafted for the detail picture; local features (issue 12)
# 4: the colour signature is stored after the thumbnail (issue 10)

# ----------------------------------------------------------------------------- decoding
#: The working picture's long side. Fingerprints are 32x32 resamples of it (and of its crop
#: views), thumbnails 48x48: 128 is enough for both, and halves decode+resize time against
#: 256 (bench dev pool, 2207 images: 7.1 s vs 14.0 s to index, same accuracy within 1 pair).
WORK_SIZE = 128
#: JPEG draft request: libjpeg picks the largest 1/2, 1/4 or 1/8 scale that stays at least
#: this big, so the working picture is never upsampled.
DRAFT_SIZE = (WORK_SIZE, WORK_SIZE)
#: The detail picture's long side: the greyscale picture local features (keypoints.py) are
#: found in, decoded in the same pass as the working picture. 384 keeps a 70% crop, a photo
#: at 60% inside a screenshot and a 15-degree turn matchable (bench dev pool: 89-96% of those
#: pairs verified at 384 px, 200 ORB keypoints) while a 12 MP JPEG is still drafted at 1/8.
DETAIL_SIZE = 384

#: JPEGs of at most this many pixels are decoded at full size, like a lossless copy of them
#: (PNG, BMP, TIFF, WebP), so that the two are the same picture bit for bit; larger ones are
#: decoded at reduced scale in the DCT domain (Image.draft), 4-8x cheaper but not the same
#: pixels as a box reduction of the full picture, so a lossless copy of a JPEG can be a bit or
#: two of pHash away. 0: every JPEG is drafted. Measured on the bench's dev pool (2207 images,
#: mostly 1.4-1.9 MP): 4 MP here costs 45% more indexing CPU and one more false link, so the
#: exact path is off; the default rule matches such copies anyway (verified, not by distance).
JPEG_EXACT_PIXELS = 0
#: Transparent pixels are composited on white (a logo on a white page), unless the opaque
#: pixels are lighter on average (alpha-weighted mean grey) than this: then on black, so
#: that a white drawing on a transparent background stays a drawing.
ALPHA_LIGHT_INK = 160
#: An animation (GIF, APNG, WebP) is fingerprinted by the mean of this many frames sampled
#: evenly over it (near-uniform frames, such as a fade from black, left out).
ANIMATION_SAMPLES = 5
#: Pictures smaller than this on either side carry too little to fingerprint usefully: they
#: are stored as flat.
MIN_SIDE = 8

# ----------------------------------------------------------------------------- hashes
HASH_SIZE = 8
PHASH_SIZE = HASH_SIZE * 4  # imagehash's highfreq_factor=4: a 32x32 DCT
THUMB_SIZE = 48  # stored greyscale thumbnail, used to verify candidate matches
#: The thumbnail's grey levels are kept in steps that follow the picture's own fine detail
#: (fingerprint.thumb_step): level v becomes (v // step) * step + step // 2, one step for the
#: whole thumbnail, chosen as the mean absolute 2-D difference (x[i,j] - x[i-1,j] - x[i,j-1]
#: + x[i-1,j-1], the fine detail a planar predictor leaves) of its least detailed
#: THUMB_STEP_BLOCK square, divided by THUMB_STEP_DETAIL, at most THUMB_STEP_MAX. A thumbnail
#: with one smooth block (a gradient, a sky, a flat border) keeps every grey level; one that
#: is textured everywhere, whose low bits are its own texture, is kept coarser and packs
#: smaller (thumbcodec). A uniform step of 6 for every picture was tried in session 7 and
#: cost the smooth pool 2.3 points of recall (gradients turned into terraces whose edges
#: move with any brightness, contrast or gamma edit): benchmarks/RESULTS.md, "Families and
#: index size, session 7" and "Index size per file, session 9". A change of these constants
#: changes the stored thumbnails: bump RECIPE_VERSION with it.
THUMB_STEP_BLOCK = 8
#: Ours, calibrated on ../shared/bench (session 9): at 1 the step is at most the least
#: detailed block's mean fine detail, which keeps 85% of the smooth pool's and 70% of the dev
#: pool's thumbnails at every level and gives the synthetic index's textured photo a step of 6.
THUMB_STEP_DETAIL = 1.0
#: The coarsest step (error -3..+2 grey levels at 6).
THUMB_STEP_MAX = 6
#: Side of the colour signature: Cb and Cr of the upright picture box-averaged to
#: COLOUR_SIZE x COLOUR_SIZE (288 bytes, stored as 6 more thumbnail rows after the grey ones).
#: Used to reject a different colour layout (verify.colour_similarity) and flat fills of
#: another colour (verify.flat_colour_match).
COLOUR_SIZE = 12

# ----------------------------------------------------------------------------- local features
#: Keypoints kept per picture (ORB, strongest FAST-Harris responses first). Spreading them
#: over the picture instead (adaptive non-maximal suppression from 4x as many) was measured
#: and dropped: weaker corners repeat worse, and a photo inside a collage or screenshot keeps
#: other ones than the photo alone (bench dev pool, pairs verified: crops 73% -> 49%,
#: screenshots 69% -> 36%). 256 rather than 128 (session 6): a picture shown at about half
#: its size inside a screenshot keeps few of the corners its full-size copy has among its
#: strongest 128 (soft wallpapers most); with 256 on both sides, screenshot/original pairs
#: verified on their own, bench smooth pool 13 -> 27 of 34, dev 38 -> 44 of 45, and no
#: screenshot verified with another picture's original (benchmarks/RESULTS.md,
#: "Screenshots, session 6").
KEYPOINTS = 256
#: ORB's pyramid: scale step and levels (1.3^5 = 3.7x: a photo at a quarter of a collage).
ORB_SCALE = 1.3
ORB_LEVELS = 6
#: ORB's patch side and border (pixels of the detail picture): 19 rather than OpenCV's 31
#: leaves keypoints on small pictures and near the edges of a crop.
ORB_PATCH = 19
#: FAST threshold: 8 (OpenCV: 20) finds keypoints on soft photographs and wallpapers; a
#: picture with fewer than KEYPOINTS corners is searched again at half the threshold, down
#: to ORB_FAST_MIN (a smooth gradient wallpaper).
ORB_FAST = 8
ORB_FAST_MIN = 2
#: Bits of the ORB descriptor kept: its first 64 (ORB's test order puts the least
#: correlated tests first), one uint64 per keypoint, searchable by the Hamming engine.
DESCRIPTOR_BITS = 64

# ----------------------------------------------------------------------------- borders
#: A border line may differ from the border colour by this much (JPEG ringing, noise).
BORDER_TOLERANCE = 8
#: ... in at most this fraction of its pixels.
BORDER_OUTLIERS = 0.02
#: Never trim more than this fraction of a side's length from one edge.
BORDER_MAX = 0.35
#: A border must end in an edge: at least this fraction of the first picture rows after it
#: differ from the border colour by more than the tolerance.
BORDER_STEP = 0.25
#: Trims smaller than this fraction of the side are ignored (one-pixel JPEG fringes).
BORDER_MIN = 0.015

# ----------------------------------------------------------------------------- flatness
#: Pictures whose 48x48 thumbnail (trimmed view) has less contrast than this (standard
#: deviation of grey levels) are "flat": blank pages, solid fills, near-black frames. Their
#: pHash is mostly noise, so they match only pictures that are pixel-for-pixel nearly the same.
FLAT_STD = 6.0


def libraries() -> dict[str, str]:
    """Return the versions of the libraries whose code makes the pixels that are hashed.

    Pillow only: its decoders (and the libjpeg, libpng, libwebp it bundles) and its
    resampling filters make every pixel that is hashed. numpy is left out on purpose: its part
    is float64 arithmetic (the DCT) whose rounding differences between releases (~1e-13) do
    not move a coefficient across the median, and listing it would re-fingerprint every file
    at each numpy upgrade.
    """
    import PIL

    return {"pillow": PIL.__version__}


@functools.cache
def recipe_id() -> str:
    """The identity of the recipe: RECIPE_VERSION and the versions of :func:`libraries`.

    Stored with every fingerprint (and with the sidecar cache): a fingerprint made under
    another identity (a new recipe, or a Pillow upgrade) is recomputed on the next index.
    Example: ``"3 pillow=13.0.0"``.
    """
    return " ".join([str(RECIPE_VERSION), *(f"{k}={v}" for k, v in sorted(libraries().items()))])
