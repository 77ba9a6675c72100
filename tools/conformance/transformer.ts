// Golden `transformer`: DICEPTION's MMDiT on the fixture's weights (SD3 folder overlaid with
// the .pth's transformer.*), output and intermediates.
import { join } from 'node:path';
import type { Gpu } from '../../src/runtime/device.ts';
import { MMDiT } from '../../src/model/mmdit.ts';
import type { Q8Summary, WeightFormat } from '../../src/model/q8-weights.ts';
import { fromArray, type Tensor } from '../../src/runtime/tensor.ts';
import { closeOnError, openWeights, overlay, prefixed, readF32, readJson, type WeightReader } from '../../src/runtime/weights.ts';
import type { Output, Precision, Runner } from './types.ts';

const INTERMEDIATES = ['temb', 'block0_hidden', 'block0_context'];

export const run: Runner = async ({ dir, gpu, precision, weights, golden }) => {
  const { outputs, q8 } = await transformerGolden(gpu, dir, golden!, precision, weights ?? 'f16');
  // Which weights were int8, beside the output row.
  if (q8) outputs[0].note = `${q8.linears} block linears in int8 (group ${q8.group}, ${q8.source === 'file' ? 'pre-quantised file' : 'quantised at load'})`;
  return outputs;
};

/**
 * The golden's forward with `checkpoint` (default the fixture's .pth) over the SD3 folder;
 * also says what the load held in 8 bits (tests compare a pre-quantised file with q8 at load).
 */
export async function transformerGolden(
  gpu: Gpu,
  dir: string,
  golden: WeightReader,
  precision: Precision,
  format: WeightFormat,
  checkpoint = join(dir, 'diception.pth'),
): Promise<{ outputs: Output[]; q8?: Q8Summary }> {
  const config = await readJson(join(dir, 'transformer', 'config.json'));
  const folder = await openWeights(join(dir, 'transformer', 'diffusion_pytorch_model.safetensors'));
  const weights = await closeOnError(folder, async () => overlay(folder, prefixed(await openWeights(checkpoint), 'transformer.')));
  // Open until the forward is done: the MMDiT reads pos_embed's crop from the file.
  const model = await closeOnError(weights, () => MMDiT.load(gpu, weights, config, precision, format));
  const input = async (name: string): Promise<Tensor> => {
    const e = golden.entry(name);
    return fromArray(gpu, await readF32(e), e.shape, 'f32');
  };
  const inputs = await Promise.all(['hidden_states', 'add_hidden_states', 'point_embeds', 'encoder_hidden_states', 'pooled_projections'].map(input));
  const [hidden, cond, points, prompt, pooled] = inputs;
  const timestep = await readF32(golden.entry('timestep'));
  const outputs: Output[] = [];
  try {
    const out = await model.forward(hidden, cond, points, timestep, prompt, pooled, async (name, t) => {
      if (INTERMEDIATES.includes(name)) outputs.push({ tensor: name, ours: await t.read() });
    });
    outputs.unshift({ tensor: 'output', ours: await out.read() });
    out.dispose();
    return { outputs, q8: model.q8 && { ...model.q8 } };
  } finally {
    for (const t of inputs) t.dispose();
    model.dispose();
    await weights.close?.();
  }
}
