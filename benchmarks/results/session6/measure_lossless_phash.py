"""pHash distance (upright, whole picture) between a JPEG and its lossless copies."""
import sys, os, itertools, tempfile, collections
import numpy as np
from PIL import Image, ImageOps
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'tests'))
from helpers import make_image
from imgfind import fingerprint_file
d = tempfile.mkdtemp()
hist = collections.Counter(); worst = []
n = 0
sizes = [(2400, 1600), (1600, 1200), (1535, 1000), (1024, 768), (640, 480), (333, 201), (64, 48)]
for (w, h), q, sub, grey, orient in itertools.product(sizes, [30, 75, 95, 100], [0, 2], [False, True], [1, 6]):
    pass

    im = make_image(None, seed=(w + q + orient) % 11, size=(w, h))
    if grey:
        im = im.convert('L')
    jpg = os.path.join(d, 'a.jpg')
    ex = Image.Exif(); ex[0x0112] = orient
    im.save(jpg, quality=q, subsampling=sub, exif=ex.tobytes())
    with Image.open(jpg) as j:
        j.load()
        j.save(os.path.join(d, 'same.png'), exif=ex.tobytes())
        up = ImageOps.exif_transpose(j)
        up.save(os.path.join(d, 'up.png'))
        up.save(os.path.join(d, 'up.tiff'))
        up.save(os.path.join(d, 'up.webp'), lossless=True)
    print((w, h), q, sub, grey, orient, dict(hist), flush=True)
    a = fingerprint_file(jpg)
    for other in ('same.png', 'up.png', 'up.webp'):
        b = fingerprint_file(os.path.join(d, other)); n += 1
        dist = int(a.phash ^ b.phash).bit_count()
        hist[dist] += 1
        if dist >= 3:
            worst.append((dist, (w, h), q, sub, grey, orient, other))
print('pairs', n, 'pHash distance histogram', sorted(hist.items()))
print('worst', sorted(worst, reverse=True)[:15])
