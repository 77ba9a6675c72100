import { expect, it } from 'vitest';
import { checkAdapterFits, fitProblem, largestTensor } from '../../src/model/adapter-fit.ts';
import { describeFixtures, TINY } from '../helpers.ts';
import { openForTest } from '../fixture-weights.ts';

const MiB = 2 ** 20;

it('fitProblem names the tensor, both sizes and the f16 way out', () => {
  const t = { name: 'pos_embed.pos_embed', file: 'x.safetensors', bytes: 300 * MiB };
  expect(fitProblem({ adapterName: 'a', maxBufferSize: 300 * MiB }, t, 'f32')).toBeUndefined();
  const msg = fitProblem({ adapterName: 'tiny gpu', maxBufferSize: 256 * MiB }, t, 'f32');
  expect(msg).toMatch(/tiny gpu.*256 MiB.*'pos_embed\.pos_embed' \(x\.safetensors\) needs 300 MiB at f32; choose f16 precision/);
  expect(fitProblem({ adapterName: 'a', maxBufferSize: 100 * MiB }, t, 'f32')).not.toMatch(/choose f16/);
});

describeFixtures('adapter fit on the tiny fixture', () => {
  it('the largest tensor is sized at the GPU precision, whatever the file stores', async () => {
    const r = await openForTest(`${TINY}/diception.pth`);
    const f16 = largestTensor([r], 'f16')!;
    const f32 = largestTensor([r], 'f32')!;
    expect(f32.name).toBe(f16.name);
    expect(f32.bytes).toBe(2 * f16.bytes);
    const e = r.entry(f16.name);
    expect(f16.bytes).toBe(e.shape.reduce((a, b) => a * b, 1) * 2);
    for (const n of r.names()) expect(r.entry(n).byteLength / (r.entry(n).dtype === 'F32' ? 2 : 1)).toBeLessThanOrEqual(f16.bytes);
  });

  it('checkAdapterFits reads only headers and refuses an adapter smaller than the largest tensor', async () => {
    const o = { pretrainedModelPath: TINY, diceptionPath: `${TINY}/diception.pth`, precision: 'f16' as const };
    await checkAdapterFits({ adapterName: 'big', maxBufferSize: 2 ** 30 }, o);
    // Without a prompt cache the text encoders count too: T5's 32128-row embedding is the largest.
    const small = { adapterName: 'small', maxBufferSize: 32 * 1024 };
    await expect(checkAdapterFits(small, o)).rejects.toThrow(/small\) is too small .* 'shared\.weight' .* needs 4 MiB at f16/);
    // With a prompt cache, the VAE's widest 3x3 convolution (64·64·9 halves) is.
    await expect(checkAdapterFits(small, { ...o, promptCache: 'cache.safetensors' })).rejects.toThrow(/'decoder\.[a-z_.0-9]+conv[12]?\.weight'.* needs 0 MiB/);
  });
});
