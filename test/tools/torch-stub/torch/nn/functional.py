import numpy as np
from .. import Tensor

def layer_norm(x, shape, eps=1e-5):
    assert tuple(shape) == x.a.shape[-1:]
    m = x.a.mean(-1, keepdims=True)
    v = x.a.var(-1, keepdims=True)
    return Tensor((x.a - m) / np.sqrt(v + eps))

def gelu(x, approximate='none'):
    assert approximate == 'tanh'
    a = x.a
    return Tensor(0.5 * a * (1 + np.tanh(0.7978845608 * (a + 0.044715 * a ** 3))))

def silu(x):
    return Tensor(x.a / (1 + np.exp(-x.a)))

def scaled_dot_product_attention(q, k, v):
    assert q.a.ndim == 4 and q.a.shape == k.a.shape == v.a.shape, (q.a.shape, k.a.shape)
    s = q.a @ np.swapaxes(k.a, -1, -2) / np.sqrt(q.a.shape[-1])
    s = np.exp(s - s.max(-1, keepdims=True))
    return Tensor((s / s.sum(-1, keepdims=True)) @ v.a)
