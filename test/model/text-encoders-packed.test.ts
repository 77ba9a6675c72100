// The f16 path on an adapter without shader-f16 (f16 weights read packed, activations f32).
import { describeTextGoldens } from './text-goldens.ts';

describeTextGoldens('f16-packed (no shader-f16)', 'f16', { disableF16: true });
