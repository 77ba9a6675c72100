// PyTorch .pth checkpoints (zip of data.pkl + raw storages), read without running pickle code.
import type { ByteSource } from '../source.ts';
import type { WeightReader } from '../weights.ts';

export async function openPth(src: ByteSource): Promise<WeightReader> {
  throw new Error(`${src.name}: .pth reading is not implemented yet`);
}
