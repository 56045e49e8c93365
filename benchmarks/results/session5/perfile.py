import glob, os, sys, time, io, json
from imgfind.decoders import pillow as P
from PIL import Image
fs=sorted(glob.glob("/tmp/s5l/sub/*/*"))
datas=[open(f,'rb').read() for f in fs]
st=os.stat(fs[0])
best=[1e9]*len(fs)
for r in range(3):
    for i,d in enumerate(datas):
        t=time.process_time(); P.PILLOW.decode(io.BytesIO(d), st); best[i]=min(best[i],time.process_time()-t)
json.dump(best, open(sys.argv[1],'w'))
