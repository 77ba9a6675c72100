// Golden `point_embed`: the point prompt encoder on the fixture's .pth.
import { join } from 'node:path';
import { PointEmbedder } from '../../src/model/point-embedder.ts';
import { openWeights, readF32 } from '../../src/runtime/weights.ts';
import type { Runner } from './types.ts';

export const run: Runner = async ({ dir, gpu, precision, golden }) => {
  const pth = await openWeights(join(dir, 'diception.pth'));
  const pe = await PointEmbedder.load(gpu, pth, precision).finally(() => pth.close?.());
  try {
    const coords = golden!.entry('coor_point');
    const out = await pe.embed(await readF32(coords), await readF32(golden!.entry('point_labels')), coords.shape[0]);
    const ours = await out.read();
    out.dispose();
    return [{ tensor: 'output', ours }];
  } finally {
    pe.dispose();
  }
};
