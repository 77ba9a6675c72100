"""PyTorch bf16 eager timings of the work the GPU report times with our kernels (the baseline
of its 'ours / PyTorch' ratios). Reads the items as JSON on stdin (tools/gpu-pack/shapes.ts:
linears, attention shapes, the MMDiT config), prints progress on stderr and one JSON line on
stdout: {"rows": [{"key", "ms"}...]} or {"skipped": reason}.

The MMDiT is written here from the model description (shared/docs/MODEL.md): SD3's joint
blocks with adaLN-Zero, joint attention through scaled_dot_product_attention, tanh-GELU MLPs,
the last block context_pre_only; random weights, timed as one denoising step's forward.
"""
import json
import math
import statistics
import sys


def log(*a):
    print(*a, file=sys.stderr, flush=True)


try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except Exception as e:  # no torch: the report says so and moves on
    print(json.dumps({'skipped': f'python3 cannot import torch ({e.__class__.__name__}: {e})'}))
    sys.exit(0)

DT = torch.bfloat16


def timed(fn, warmup=2, runs=5):
    """Median milliseconds of fn() over CUDA events, after warm-up calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(runs):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ms.append(a.elapsed_time(b))
    return statistics.median(ms)


def lin(i, o):
    return nn.Linear(i, o, device='cuda', dtype=DT)


def modulate(x, shift, scale):
    return F.layer_norm(x, x.shape[-1:], eps=1e-6) * (1 + scale[:, None]) + shift[:, None]


class Mlp(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.up, self.down = lin(h, 4 * h), lin(4 * h, h)

    def forward(self, x):
        return self.down(F.gelu(self.up(x), approximate='tanh'))


class JointBlock(nn.Module):
    """Image and context streams with their own adaLN-Zero, projections and MLPs, attending
    jointly over [image, context]; the last block (pre_only) updates the image stream only."""

    def __init__(self, h, heads, pre_only):
        super().__init__()
        self.heads, self.pre_only = heads, pre_only
        self.ada_x, self.ada_c = lin(h, 6 * h), lin(h, (2 if pre_only else 6) * h)
        self.qkv_x, self.qkv_c = lin(h, 3 * h), lin(h, 3 * h)
        self.out_x, self.mlp_x = lin(h, h), Mlp(h)
        if not pre_only:
            self.out_c, self.mlp_c = lin(h, h), Mlp(h)

    def forward(self, x, c, temb):
        e = F.silu(temb)
        sx, kx, gx, smx, kmx, gmx = self.ada_x(e).chunk(6, dim=-1)
        if self.pre_only:
            kc, sc = self.ada_c(e).chunk(2, dim=-1)  # AdaLayerNormContinuous: scale first
        else:
            sc, kc, gc, smc, kmc, gmc = self.ada_c(e).chunk(6, dim=-1)
        n = x.shape[1]
        qkv = torch.cat([self.qkv_x(modulate(x, sx, kx)), self.qkv_c(modulate(c, sc, kc))], dim=1)
        b, t, _ = qkv.shape
        q, k, v = qkv.view(b, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, -1)
        x = x + gx[:, None] * self.out_x(a[:, :n])
        x = x + gmx[:, None] * self.mlp_x(modulate(x, smx, kmx))
        if self.pre_only:
            return x, c
        c = c + gc[:, None] * self.out_c(a[:, n:])
        c = c + gmc[:, None] * self.mlp_c(modulate(c, smc, kmc))
        return x, c


class MMDiT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h, heads, p = cfg['caption_projection_dim'], cfg['num_attention_heads'], cfg['patch_size']
        self.p, self.cin = p, cfg['in_channels']
        self.patch = nn.Conv2d(self.cin, h, p, stride=p, device='cuda', dtype=DT)
        self.time = nn.Sequential(lin(256, h), nn.SiLU(), lin(h, h))
        self.text = nn.Sequential(lin(cfg['pooled_projection_dim'], h), nn.SiLU(), lin(h, h))
        self.context = lin(cfg['joint_attention_dim'], h)
        n = cfg['num_layers']
        self.blocks = nn.ModuleList(JointBlock(h, heads, i == n - 1) for i in range(n))
        self.ada_out, self.proj_out = lin(h, 2 * h), lin(h, p * p * self.cin)

    def tokens(self, z):
        return self.patch(z).flatten(2).transpose(1, 2)

    def forward(self, x, cond, points, t, prompt, pooled):
        b, _, s, _ = x.shape
        img = torch.cat([self.tokens(x), self.tokens(cond)], dim=1)
        img = img + self.pos[:, : img.shape[1]]
        freqs = torch.exp(-math.log(10000) * torch.arange(128, device='cuda') / 128)
        arg = t[:, None].float() * freqs[None]
        temb = self.time(torch.cat([arg.cos(), arg.sin()], dim=-1).to(DT)) + self.text(pooled)
        c = torch.cat([self.context(prompt), points], dim=1)
        for blk in self.blocks:
            img, c = blk(img, c, temb)
        scale, shift = self.ada_out(F.silu(temb)).chunk(2, dim=-1)
        out = self.proj_out(modulate(img, shift, scale))[:, : (s // self.p) ** 2]
        g = s // self.p
        return out.view(b, g, g, self.p, self.p, self.cin).permute(0, 5, 1, 3, 2, 4).reshape(b, self.cin, s, s)


def main():
    work = json.load(sys.stdin)
    if not torch.cuda.is_available():
        print(json.dumps({'skipped': f'torch {torch.__version__} sees no CUDA device'}))
        return
    torch.manual_seed(0)
    rows = []

    def add(key, ms):
        rows.append({'key': key, 'ms': round(ms, 4), 'dtype': 'bf16'})
        log(f'{key}: {ms:.3f} ms')

    with torch.inference_mode():
        for it in work['linears']:
            x = torch.randn(it['M'], it['K'], device='cuda', dtype=DT)
            layer = lin(it['K'], it['N'])
            add(it['key'], timed(lambda: layer(x)))
        for it in work['attention']:
            shape = (it['batch'], it['heads'], it['tokens'], it['headDim'])
            q, k, v = (torch.randn(shape, device='cuda', dtype=DT) for _ in range(3))
            add(it['key'], timed(lambda: F.scaled_dot_product_attention(q, k, v)))
        m = work['mmdit']
        cfg, s = m['config'], m['latent']
        model = MMDiT(cfg)
        h = cfg['caption_projection_dim']
        model.pos = torch.randn(1, 2 * (s // cfg['patch_size']) ** 2, h, device='cuda', dtype=DT)
        for batch in (1, 2):
            args = (
                torch.randn(batch, cfg['in_channels'], s, s, device='cuda', dtype=DT),
                torch.randn(batch, cfg['in_channels'], s, s, device='cuda', dtype=DT),
                torch.randn(batch, 5, h, device='cuda', dtype=DT),
                torch.full((batch,), 500.0, device='cuda'),
                torch.randn(batch, m['promptTokens'], cfg['joint_attention_dim'], device='cuda', dtype=DT),
                torch.randn(batch, cfg['pooled_projection_dim'], device='cuda', dtype=DT),
            )
            add(m['keys'][str(batch)], timed(lambda: model(*args), warmup=2, runs=5))
    print(json.dumps({'torch': torch.__version__, 'device': torch.cuda.get_device_name(), 'rows': rows}))


main()
