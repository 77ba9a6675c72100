# A numpy stand-in for the parts of torch that tools/gpu-pack/torch_ref.py calls (shapes and
# the math, no dtypes or devices), so test/tools/torch-ref.test.ts can run the script's logic
# on a machine without torch. Timings are fake (1 ms).
import contextlib
import numpy as np
__version__ = 'numpy-stub'
bfloat16 = 'bf16'

def _a(x):
    return x.a if isinstance(x, Tensor) else x

class Tensor:
    def __init__(self, a):
        self.a = np.asarray(a, dtype=np.float64) if not isinstance(a, np.ndarray) else a
    @property
    def shape(self):
        return Size(self.a.shape)
    def view(self, *s):
        s = s[0] if len(s) == 1 and isinstance(s[0], (tuple, list)) else s
        return Tensor(self.a.reshape(s))
    reshape = view
    def permute(self, *d):
        return Tensor(self.a.transpose(d))
    def transpose(self, i, j):
        return Tensor(np.swapaxes(self.a, i, j))
    def chunk(self, n, dim=0):
        return [Tensor(x) for x in np.split(self.a, n, axis=dim)]
    def flatten(self, start):
        return Tensor(self.a.reshape(self.a.shape[:start] + (-1,)))
    def float(self):
        return self
    def to(self, *_):
        return self
    def cos(self):
        return Tensor(np.cos(self.a))
    def sin(self):
        return Tensor(np.sin(self.a))
    def __getitem__(self, k):
        return Tensor(self.a[k])
    def __iter__(self):
        return (Tensor(x) for x in self.a)
    def __add__(self, o): return Tensor(self.a + _a(o))
    __radd__ = __add__
    def __mul__(self, o): return Tensor(self.a * _a(o))
    __rmul__ = __mul__
    def __truediv__(self, o): return Tensor(self.a / _a(o))

class Size(tuple):
    pass

def randn(*s, device=None, dtype=None):
    s = s[0] if len(s) == 1 and isinstance(s[0], tuple) else s
    return Tensor(np.random.randn(*s))
def full(s, v, device=None, dtype=None):
    return Tensor(np.full(s, v))
def cat(ts, dim=0):
    return Tensor(np.concatenate([t.a for t in ts], axis=dim))
def exp(t):
    return Tensor(np.exp(_a(t)))
def arange(n, device=None):
    return Tensor(np.arange(n).astype(np.float64))
def manual_seed(s):
    np.random.seed(s)
@contextlib.contextmanager
def inference_mode():
    yield

class _Event:
    def __init__(self, enable_timing=False): pass
    def record(self): pass
    def synchronize(self): pass
    def elapsed_time(self, o): return 1.0
class cuda:
    Event = _Event
    @staticmethod
    def is_available(): return True
    @staticmethod
    def synchronize(): pass
    @staticmethod
    def get_device_name(): return 'numpy stub'

from . import nn  # noqa
