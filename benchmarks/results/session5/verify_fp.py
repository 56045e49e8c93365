import glob, os, sys, time, importlib.util
import numpy as np
import imgfind
from imgfind import fingerprint as new
from imgfind.decode import open_for_hash
spec=importlib.util.spec_from_file_location("imgfind._fp_old","/tmp/s5l/fpold/fp_old.py")
old=importlib.util.module_from_spec(spec); spec.loader.exec_module(old)
rng=np.random.default_rng(0)
grays=[]
for f in sorted(glob.glob("/tmp/s5l/sub/*/*"))[:400]:
    d=open_for_hash(os.fsencode(f)); grays.append((d.gray,d.chroma))
for shape in [(1,1),(3,8),(8,3),(9,9),(64,64),(65,40),(128,96),(96,128),(7,128),(128,5)]:
    grays.append((rng.integers(0,256,shape,dtype=np.uint8),None))
    grays.append((np.full(shape,77,np.uint8),None))
    g=np.full(shape,0,np.uint8); g[shape[0]//5:shape[0]*4//5, shape[1]//6:shape[1]*5//6]=rng.integers(0,256,(len(range(shape[0]//5,shape[0]*4//5)),len(range(shape[1]//6,shape[1]*5//6))),dtype=np.uint8)
    grays.append((g,None))
bad=0
for g,c in grays:
    a=old.compute(g,c); b=new.compute(g,c)
    same = a.phash==b.phash and a.dhash==b.dhash and (a.hashes==b.hashes).all() and a.trim==b.trim and a.thumb==b.thumb and a.flat==b.flat and a.colour==b.colour
    bad += not same
print('compared',len(grays),'different',bad)
for mod in (old,new,old,new):
    t=time.process_time()
    for g,c in grays[:400]: mod.compute(g,c)
    print(mod.__name__, round((time.process_time()-t)*1000/400,2),'ms')
