# Expected values for test/model/metrics.test.ts from an independent numpy implementation of the
# formulas in src/model/metrics.ts (least squares via numpy.linalg.lstsq, angles via arccos).
# Run: python3 test/model/metrics-golden.py > test/model/metrics-golden.json
import json
import numpy as np

rng = np.random.default_rng(19)


def depth(pred, gt, space, lo=None, hi=None):
    valid = (gt > 0) & np.isfinite(gt) & np.isfinite(pred)
    if lo is not None:
        valid &= gt >= lo
    if hi is not None:
        valid &= gt <= hi
    p, g = pred[valid].astype(np.float64), gt[valid].astype(np.float64)
    target = 1 / g if space == 'disparity' else g
    A = np.stack([p, np.ones_like(p)], axis=1)
    (s, t), *_ = np.linalg.lstsq(A, target, rcond=None)
    fit = A @ np.array([s, t])
    d = 1 / np.maximum(fit, 1e-6) if space == 'disparity' else fit
    d = np.clip(d, max(lo or 0, 1e-6), hi if hi is not None else np.inf)
    ratio = np.maximum(d / g, g / d)
    return {'absRel': float(np.mean(np.abs(d - g) / g)), 'delta1': float(np.mean(ratio < 1.25)), 'valid': int(valid.sum())}


def normal(pred, gt):
    a, b = pred.reshape(3, -1).T.astype(np.float64), gt.reshape(3, -1).T.astype(np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    ok = (na > 0) & (nb > 0)
    cos = np.clip(np.sum(a[ok] * b[ok], axis=1) / (na[ok] * nb[ok]), -1, 1)
    e = np.degrees(np.arccos(cos))
    return {'mean': float(e.mean()), 'median': float(np.median(e)), 'within11_25': float(100 * np.mean(e < 11.25)),
            'within22_5': float(100 * np.mean(e < 22.5)), 'within30': float(100 * np.mean(e < 30)),
            'valid': int(ok.sum()), 'skipped': int((~ok).sum())}


def iou(a, b):
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 1.0


cases = []
# Depth: a prediction that is roughly an affine map of the truth (disparity or depth), plus noise,
# with invalid (zero) ground-truth pixels.
gt = rng.uniform(0.5, 10, 300).astype(np.float32)
gt[rng.random(300) < 0.15] = 0
pred_disp = (0.3 / np.where(gt > 0, gt, 1) + 0.05 + rng.normal(0, 0.01, 300)).astype(np.float32)
pred_depth = (0.1 * gt + 0.2 + rng.normal(0, 0.05, 300)).astype(np.float32)
for name, pred, space, lo, hi in [
    ('disparity', pred_disp, 'disparity', None, None),
    ('disparity, min/max depth', pred_disp, 'disparity', 1.0, 8.0),
    ('depth', pred_depth, 'depth', None, None),
    ('depth, min/max depth', pred_depth, 'depth', 1.0, 8.0),
    ('constant prediction, disparity', np.full(300, 0.4, np.float32), 'disparity', None, None),
    ('constant prediction, depth', np.full(300, 0.4, np.float32), 'depth', None, None),
]:
    cases.append({'kind': 'depth', 'name': name, 'pred': pred.tolist(), 'gt': gt.tolist(), 'options': {
        'space': space, **({'minDepth': lo} if lo is not None else {}), **({'maxDepth': hi} if hi is not None else {})},
        'expected': depth(pred, gt, space, lo, hi)})

# Normals: noisy copies of random unit vectors, some zero vectors on either side.
n = 200
g = rng.normal(size=(3, n))
g /= np.linalg.norm(g, axis=0)
p = g + rng.normal(0, 0.3, (3, n))
g[:, rng.random(n) < 0.05] = 0
p[:, rng.random(n) < 0.05] = 0
cases.append({'kind': 'normal', 'name': 'noisy normals with zero vectors', 'pred': p.astype(np.float32).ravel().tolist(),
              'gt': g.astype(np.float32).ravel().tolist(), 'expected': normal(p.astype(np.float32), g.astype(np.float32))})
# Odd count of valid pixels (median is the middle one).
cases.append({'kind': 'normal', 'name': 'odd count', 'pred': p[:, :7].astype(np.float32).ravel().tolist(),
              'gt': rng.normal(size=(3, 7)).astype(np.float32).ravel().tolist(), 'expected': None})
cases[-1]['expected'] = normal(np.array(cases[-1]['pred'], np.float32), np.array(cases[-1]['gt'], np.float32))

# IoU on random masks of different densities.
for density in (0.1, 0.5):
    a = rng.random(400) < density
    b = rng.random(400) < density
    cases.append({'kind': 'iou', 'name': f'random masks {density}', 'pred': a.astype(int).tolist(), 'gt': b.astype(int).tolist(),
                  'expected': {'iou': iou(a, b)}})

print(json.dumps({'generator': 'test/model/metrics-golden.py', 'numpy': np.__version__, 'cases': cases}))
