"""Is findHomography's reported inlier count some 4-point hypothesis' count? For chosen calls
of a replay (pickled list of (pa, pb, reported) as recorded by /tmp scripts of session 11 or
partial_slack_replay.py's `calls`), every 4-subset OpenCV's RANSAC would draw (checkSubset's
orientation test) is solved by cv2.findHomography(4 points, method 0) -- RANSAC's own kernel
-- and scored with float32 errors as OpenCV's HomographyEstimatorCallback::computeError.
Prints the best such consensus beside the reported count.

Usage: python benchmarks/opencv_4pt_consensus.py CALLS.pkl K [K ...]
"""
import sys, pickle, itertools  # noqa: E401
import numpy as np, cv2
calls = pickle.load(open(sys.argv[1], 'rb'))
small = [c for c in calls if len(c[0]) <= 40]
def det3(P, t): 
    (x0,y0),(x1,y1),(x2,y2) = P[t[0]],P[t[1]],P[t[2]]
    return np.linalg.det(np.array([[x0,y0,1],[x1,y1,1],[x2,y2,1]],float))
def collinear(P):
    i = 3
    for j in range(i):
        dx1, dy1 = P[j,0]-P[i,0], P[j,1]-P[i,1]
        for k in range(j):
            dx2, dy2 = P[k,0]-P[i,0], P[k,1]-P[i,1]
            if abs(dx2*dy1-dy2*dx1) <= 1.1920929e-07*(abs(dx1)+abs(dy1)+abs(dx2)+abs(dy2)): return True
    return False
tt = [(0,1,2),(1,2,3),(0,2,3),(1,3,0)]
for k in [int(x) for x in sys.argv[2:]]:
    pa, pb, nh = small[k]
    pa = pa.reshape(-1, 2).astype(np.float32); pb = pb.reshape(-1, 2).astype(np.float32)
    n = len(pa); best = 0; rows = []
    for sub in itertools.combinations(range(n), 4):
        s = list(sub); A = pa[s].astype(np.float64); B = pb[s].astype(np.float64)
        neg = sum(det3(A,t)*det3(B,t) < 0 for t in tt)
        if neg not in (0, 4): continue
        H, _ = cv2.findHomography(pa[s], pb[s], 0)
        if H is None: continue
        Hf = H.astype(np.float32).ravel()
        x, y = pa[:, 0], pa[:, 1]
        with np.errstate(all='ignore'):
            ww = np.float32(1) / (Hf[6] * x + Hf[7] * y + np.float32(1))
            dx = (Hf[0] * x + Hf[1] * y + Hf[2]) * ww - pb[:, 0]
            dy = (Hf[3] * x + Hf[4] * y + Hf[5]) * ww - pb[:, 1]
            e32 = dx * dx + dy * dy
            Hd = H.ravel(); xd, yd = x.astype(float), y.astype(float)
            w = Hd[6]*xd + Hd[7]*yd + Hd[8]
            e64 = ((Hd[0]*xd+Hd[1]*yd+Hd[2])/w - pb[:,0])**2 + ((Hd[3]*xd+Hd[4]*yd+Hd[5])/w - pb[:,1])**2
        c = int((e32 <= np.float32(25)).sum()); c64 = int((e64 <= 25).sum())
        if c >= nh: rows.append((s, c, c64, sorted(np.sqrt(e64[e32 <= 25]).round(3).tolist())[-3:], collinear(A) or collinear(B)))
        best = max(best, c)
    print(k, "n", n, "n_h", nh, "max opencv-4pt over valid subsets", best, "subsets reaching n_h:", len(rows))
    for r in rows[:5]: print("   ", r)
