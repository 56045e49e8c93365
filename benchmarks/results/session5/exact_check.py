import sys, io, os, itertools, tempfile
import numpy as np
from PIL import Image, ImageOps
sys.path.insert(0, '/work/wt-lossless/tests')
from helpers import make_image
from imgfind import fingerprint_file
d=tempfile.mkdtemp()
bad=0; n=0
for (w,h),q,sub,grey,orient in itertools.product([(1535,1000),(1024,768),(640,480),(333,201),(1200,1535),(17,9)],[30,75,95,100],[0,2],[False,True],[1,6,3,5]):
    im=make_image(None, seed=(w+q)%7, size=(w,h))
    if grey: im=im.convert('L')
    jpg=os.path.join(d,'a.jpg')
    ex=Image.Exif(); ex[0x0112]=orient
    im.save(jpg, quality=q, subsampling=sub, exif=ex.tobytes())
    with Image.open(jpg) as j:
        j.load()
        j.save(os.path.join(d,'same.png'), exif=ex.tobytes())   # stored pixels + tag
        up=ImageOps.exif_transpose(j)
        up.save(os.path.join(d,'up.png'))                       # upright pixels, no tag
        up.save(os.path.join(d,'up.bmp'))
    a=fingerprint_file(jpg)
    for other in ('same.png','up.png','up.bmp'):
        b=fingerprint_file(os.path.join(d,other)); n+=1
        if not (a.phash==b.phash and (a.hashes==b.hashes).all()):
            bad+=1; print('DIFF',(w,h),q,sub,grey,orient,other,int(np.unpackbits((a.hashes^b.hashes).view(np.uint8)).sum()))
print('pairs',n,'different',bad)
