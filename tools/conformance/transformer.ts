// Golden `transformer`: DICEPTION's MMDiT on the fixture's weights (SD3 folder overlaid with
// the .pth's transformer.*), output and intermediates.
import { join } from 'node:path';
import { MMDiT } from '../../src/model/mmdit.ts';
import { fromArray, type Tensor } from '../../src/runtime/tensor.ts';
import { closeOnError, openWeights, overlay, prefixed, readF32, readJson } from '../../src/runtime/weights.ts';
import type { Output, Runner } from './types.ts';

const INTERMEDIATES = ['temb', 'block0_hidden', 'block0_context'];

export const run: Runner = async ({ dir, gpu, precision, golden }) => {
  const config = await readJson(join(dir, 'transformer', 'config.json'));
  const folder = await openWeights(join(dir, 'transformer', 'diffusion_pytorch_model.safetensors'));
  const weights = await closeOnError(folder, async () => overlay(folder, prefixed(await openWeights(join(dir, 'diception.pth')), 'transformer.')));
  // Open until the forward is done: the MMDiT reads pos_embed's crop from the file.
  const model = await closeOnError(weights, () => MMDiT.load(gpu, weights, config, precision));
  const input = async (name: string): Promise<Tensor> => {
    const e = golden!.entry(name);
    return fromArray(gpu, await readF32(e), e.shape, 'f32');
  };
  const inputs = await Promise.all(['hidden_states', 'add_hidden_states', 'point_embeds', 'encoder_hidden_states', 'pooled_projections'].map(input));
  const [hidden, cond, points, prompt, pooled] = inputs;
  const timestep = await readF32(golden!.entry('timestep'));
  const outputs: Output[] = [];
  try {
    const out = await model.forward(hidden, cond, points, timestep, prompt, pooled, async (name, t) => {
      if (INTERMEDIATES.includes(name)) outputs.push({ tensor: name, ours: await t.read() });
    });
    outputs.unshift({ tensor: 'output', ours: await out.read() });
    out.dispose();
  } finally {
    for (const t of inputs) t.dispose();
    model.dispose();
    await weights.close?.();
  }
  return outputs;
};
