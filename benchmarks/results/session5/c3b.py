import glob, os, time, io
from PIL import Image
from imgfind.decoders import pillow as P
fs=[f for f in sorted(glob.glob("/tmp/s5l/sub/*/*.jpg")) if max(Image.open(f).size)>=1536][:150]
datas=[open(f,'rb').read() for f in fs]
st=os.stat(fs[0])
tot=[0.0,0.0]
for r in range(3):
  for d in datas:
    for v,side in enumerate((0,3072)):
        P.JPEG_EXACT_SIDE=side
        t=time.process_time(); P.PILLOW.decode(io.BytesIO(d),st); tot[v]+=time.process_time()-t
print('draft %.2f exact %.2f'%(tot[0]*1000/len(datas)/3, tot[1]*1000/len(datas)/3))
